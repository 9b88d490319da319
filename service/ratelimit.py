"""Fixed-window rate limits counted in the database, shared by every worker and instance."""
import hashlib
import time
from functools import cache

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite

from models import RateLimitCounter, db

from .errors import RateLimited
from .sqlutil import dialect_name


@cache
def _upsert(dialect: str):
    """The counting statement, built once per dialect (it runs on every public rating, twice)."""
    table = RateLimitCounter.__table__
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    stmt = stmt.values(key=bindparam("key"), window_start=bindparam("window"), count=1)
    return stmt.on_conflict_do_update(index_elements=["key", "window_start"],
                                      set_={"count": table.c.count + 1}).returning(table.c.count)


def hit(bucket: str, identity: str, limit: tuple[int, int]) -> None:
    """Count one event for identity in its current window; raise 429 past the limit (COUNT 0 = no limit)."""
    count_max, period = limit
    if count_max <= 0:
        return
    now_s = int(time.time())
    window = now_s - now_s % period
    # Hashed so that client addresses are not kept in the clear.
    key = hashlib.sha256(f"{bucket}|{identity}".encode()).hexdigest()
    count = db.session.connection().execute(_upsert(dialect_name()), {"key": key, "window": window}).scalar_one()
    if count > count_max:
        retry = window + period - now_s
        raise RateLimited(f"提交过于频繁，请在 {retry} 秒后再试", headers={"Retry-After": str(retry)})
