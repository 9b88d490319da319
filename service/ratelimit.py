"""Fixed-window rate limits counted in the database, shared by every worker and instance."""
import hashlib
import time

from sqlalchemy import bindparam

from models import RateLimitCounter

from .errors import RateLimited
from .sqlutil import PlainStatements, insert


def _upsert():
    table = RateLimitCounter.__table__
    stmt = insert(table).values(key=bindparam("key"), window_start=bindparam("window"), count=1)
    return stmt.on_conflict_do_update(index_elements=["key", "window_start"],
                                      set_={"count": table.c.count + 1}).returning(table.c.count)


def hit(statements: PlainStatements, bucket: str, identity: str, limit: tuple[int, int]) -> None:
    """Count one event for identity in its current window, in the caller's write transaction; raise 429 past the
    limit (COUNT 0 = no limit). The caller rolls back on the 429, so refused attempts are not counted."""
    count_max, period = limit
    if count_max <= 0:
        return
    now_s = int(time.time())
    window = now_s - now_s % period
    # Hashed so that client addresses are not kept in the clear.
    key = hashlib.sha256(f"{bucket}|{identity}".encode()).hexdigest()
    ((count,),) = statements.rows("ratelimit.hit", _upsert, {"key": key, "window": window})
    if count > count_max:
        retry = window + period - now_s
        raise RateLimited(f"提交过于频繁，请在 {retry} 秒后再试", headers={"Retry-After": str(retry)})
