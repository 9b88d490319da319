"""Account administration: create, list, deactivate and rotate the bearer tokens of staff, supervisors and admins.

A token is shown once, when it is made; only its hash is stored, so a lost token is rotated, never read back.
Authentication looks an account up by the hash of the presented token on every request, so a deactivated account
or a rotated-away token is refused at once."""
from sqlalchemy import select

from models import Account, Hall, db

from .database import writes
from .errors import Conflict, NotFound, ValidationFailed
from .pagination import keyset_page
from .security import hash_token, new_token
from .vocab import ROLES, one_of


def account_view(account: Account) -> dict:
    """What every answer shows of an account: never its token hash."""
    return {"id": account.id, "name": account.name, "role": account.role, "role_label": ROLES.get(account.role),
            "hall": account.hall_code, "active": account.active, "created_at": account.created_at}


def _check(role: str, hall_code: str | None, name: str | None) -> None:
    errors = {}
    if role not in ROLES:
        errors["role"] = [one_of("角色", ROLES)]
    if role != "admin" and not hall_code:
        errors["hall"] = ["工作人员和监管账号必须指定所属大厅"]
    if hall_code and db.session.get(Hall, hall_code) is None:
        errors["hall"] = [f"未知的大厅编码：{hall_code}"]
    if not name or not name.strip():
        errors["name"] = ["账号名称不能为空"]
    if errors:
        raise ValidationFailed(errors)


@writes
def create_account(*, role: str, hall_code: str | None, name: str) -> tuple[Account, str]:
    """Returns the account and its token; the token is shown once and only its hash is kept."""
    _check(role, hall_code, name)
    token = new_token()
    account = Account(name=name.strip(), role=role, hall_code=hall_code or None, token_hash=hash_token(token))
    db.session.add(account)
    db.session.commit()
    return account, token


def list_accounts(filters: dict, *, cursor: str | None, limit: int) -> dict:
    """Newest first, keyset-paginated like every list; filters: hall, role, active."""
    if filters.get("hall") and db.session.get(Hall, filters["hall"]) is None:
        raise ValidationFailed({"hall": [f"未知的大厅编码：{filters['hall']}"]})
    stmt = select(Account)
    if filters.get("hall"):
        stmt = stmt.where(Account.hall_code == filters["hall"])
    if filters.get("role"):
        stmt = stmt.where(Account.role == filters["role"])
    if filters.get("active") is not None:
        stmt = stmt.where(Account.active.is_(filters["active"]))
    rows, next_cursor = keyset_page(stmt, Account.id, cursor=cursor, limit=limit)
    return {"items": [account_view(a) for a in rows], "next_cursor": next_cursor}


def _locked(*ids: int) -> dict[int, Account]:
    # Rows locked in id order (PostgreSQL; SQLite's write transaction serialises anyway), so two admins
    # deactivating each other at the same moment queue instead of deadlocking, and the second sees the first's act.
    rows = db.session.execute(select(Account).where(Account.id.in_(set(ids))).order_by(Account.id)
                              .with_for_update()).scalars()
    return {a.id: a for a in rows}


@writes
def deactivate(account_id: int, *, actor_id: int | None = None) -> dict:
    """Deactivate an account: its token is refused from the next request on. Deactivating an inactive account
    again changes nothing (idempotent). An admin cannot deactivate their own account, and an acting admin
    deactivated meanwhile (two admins at once) is refused, so the district always keeps an admin who can sign in.
    actor_id None: the server's operator (`flask accounts deactivate`)."""
    accounts = _locked(account_id, *([actor_id] if actor_id is not None else []))
    account = accounts.get(account_id)
    if account is None:
        db.session.rollback()
        raise NotFound("未找到该账号", code="not_found")
    if account_id == actor_id:
        db.session.rollback()
        raise Conflict("不能停用自己正在使用的账号，请由另一名管理员操作", code="cannot_deactivate_self")
    if actor_id is not None and (accounts.get(actor_id) is None or not accounts[actor_id].active):
        db.session.rollback()
        raise Conflict("当前账号已被停用，不能执行此操作", code="actor_inactive")
    account.active = False
    view = account_view(account)
    db.session.commit()
    return view


@writes
def rotate(account_id: int) -> tuple[dict, str]:
    """A new token for an active account; the old one is refused from the next request on (only the new hash is
    stored). Returns the account and the new token, shown once."""
    account = _locked(account_id).get(account_id)
    if account is None:
        db.session.rollback()
        raise NotFound("未找到该账号", code="not_found")
    if not account.active:
        db.session.rollback()
        raise Conflict("该账号已停用，不能更换令牌；如需继续使用请新建账号", code="account_inactive")
    token = new_token()
    account.token_hash = hash_token(token)
    view = account_view(account)
    db.session.commit()
    return view, token
