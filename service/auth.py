"""Accounts, bearer tokens and hall scope: staff see one hall, supervisors a subtree, admins everything."""
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from models import Account, Hall, db

from .errors import Forbidden, NotFound, Unauthorized
from .security import hash_token, same
from .sqlutil import PlainStatements
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


def authenticate(token: str | None) -> Principal:
    if not token:
        raise Unauthorized("缺少访问令牌，请在 Authorization 头中提供 Bearer 令牌", code="unauthorized",
                           headers={"WWW-Authenticate": 'Bearer realm="api"'})
    digest = hash_token(token)
    account = db.session.execute(select(Account).where(Account.token_hash == digest)).scalar_one_or_none()
    if account is None or not account.active or not same(account.token_hash, digest):
        raise Unauthorized("访问令牌无效或已停用", code="invalid_token",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return Principal(account.id, account.name, account.role, account.hall_code,
                     scope_of(account.role, account.hall_code))


def _account_by_digest():
    return select(Account.id, Account.name, Account.role, Account.hall_code, Account.active, Account.token_hash) \
        .where(Account.token_hash == bindparam("digest"))


# Principals the 304 fast path accepted lately: token digest → (monotonic time read, principal). Refusals are never
# kept, and only that path reads it: a stale entry can at most answer "your copy is still current" (a 304 to a
# client that already holds the current ETag) for AUTH_CACHE_SECONDS; every other answer authenticates afresh.
_recently_accepted: dict[str, tuple[float, Principal]] = {}
_RECENT_MAX = 1024
_clock = time.monotonic


def accepted_principal(reads: PlainStatements, token: str | None, max_age: float = 0) -> Principal | None:
    """The principal authenticate() gives for this token, read with plain statements (no Session, no ORM); None
    whenever authenticate() would refuse the token, so the caller can let authenticate() answer the refusal.
    With max_age > 0 a principal read less than max_age seconds ago is answered without a read."""
    if not token:
        return None
    digest = hash_token(token)
    if max_age > 0:
        kept = _recently_accepted.get(digest)
        if kept is not None and _clock() - kept[0] < max_age:
            return kept[1]
    read_at = _clock()
    rows = reads.rows("auth.account_by_digest", _account_by_digest, {"digest": digest})
    if len(rows) != 1:
        return None
    account_id, name, role, hall_code, active, stored = rows[0]
    if not active or role not in ROLE_RANK or not same(stored, digest):
        return None

    def tree(root):
        return frozenset(code for (code,) in reads.rows("auth.subtree", _subtree_codes, {"root": root}))

    principal = Principal(account_id, name, role, hall_code, scope_of(role, hall_code, tree))
    if max_age > 0:
        if len(_recently_accepted) >= _RECENT_MAX:
            _recently_accepted.clear()
        _recently_accepted[digest] = (read_at, principal)
    return principal
