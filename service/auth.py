"""Accounts, bearer tokens and hall scope: staff see one hall, supervisors a subtree, admins everything."""
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from models import Account, Hall, db

from .errors import Forbidden, NotFound, Unauthorized
from .security import hash_token, same
from .sqlutil import PlainStatements, plain_statements
from .vocab import ROLE_RANK, ROLES


@dataclass(frozen=True)
class Principal:
    account_id: int
    name: str
    role: str
    hall_code: str | None
    halls: frozenset[str] | None  # None: every hall (admin)

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def require(self, role: str) -> None:
        if not self.at_least(role):
            raise Forbidden(f"当前账号（{ROLES[self.role]}）无权执行此操作", code="forbidden")

    def sees(self, hall_code: str | None) -> bool:
        return self.halls is None or hall_code in self.halls

    def check_hall(self, hall_code: str) -> None:
        """Outside the scope looks exactly like unknown: no leak of existence."""
        if not self.sees(hall_code):
            raise NotFound("未找到该服务大厅", code="not_found")


def _subtree_codes():
    tree = select(Hall.code).where(Hall.code == bindparam("root")).cte("tree", recursive=True)
    tree = tree.union_all(select(Hall.code).where(Hall.parent_code == tree.c.code))
    return select(tree.c.code)


def subtree(root: str) -> frozenset[str]:
    return frozenset(db.session.execute(_subtree_codes(), {"root": root}).scalars())


def scope_of(role: str, hall_code: str | None, tree=subtree) -> frozenset[str] | None:
    if role == "admin":
        return None
    if role == "supervisor":
        return tree(hall_code)
    return frozenset({hall_code})


def _account_by_digest():
    return select(Account.id, Account.name, Account.role, Account.hall_code, Account.active, Account.token_hash) \
        .where(Account.token_hash == bindparam("digest"))


def authenticate(token: str | None, reads: PlainStatements | None = None) -> Principal:
    """The principal of a bearer token, or 401. Read afresh every time (a deactivated token is refused at once),
    with plain indexed reads instead of the Session: every authenticated view and the polling fast path in front
    of Flask (which passes its own `reads`) share this one check."""
    if not token:
        raise Unauthorized("缺少访问令牌，请在 Authorization 头中提供 Bearer 令牌", code="unauthorized",
                           headers={"WWW-Authenticate": 'Bearer realm="api"'})
    if reads is None:
        with plain_statements() as own:
            return authenticate(token, own)
    digest = hash_token(token)
    rows = reads.rows(_account_by_digest, {"digest": digest})
    account_id, name, role, hall_code, active, stored = rows[0] if len(rows) == 1 else (None,) * 6
    if not active or role not in ROLE_RANK or not same(stored, digest):
        raise Unauthorized("访问令牌无效或已停用", code="invalid_token",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def tree(root):
        return frozenset(code for (code,) in reads.rows(_subtree_codes, {"root": root}))

    return Principal(account_id, name, role, hall_code, scope_of(role, hall_code, tree))
