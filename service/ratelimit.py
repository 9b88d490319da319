"""Fixed-window rate limits counted in the database, shared by every worker and instance."""
import hashlib
import time

from flask import current_app
from sqlalchemy import bindparam, delete

from models import RateLimitCounter, db

from .errors import RateLimited
from .sqlutil import PlainStatements, insert
from .timeutil import now

LIMITS = ("RATE_LIMIT_ANON_RATINGS", "RATE_LIMIT_ANON_RATINGS_PER_IP", "RATE_LIMIT_RECEIPT_READS")


def _upsert(count: int):
    """One statement counting `count` buckets at once: (key, count after this event) per bucket."""
    table = RateLimitCounter.__table__
    stmt = insert(table).values([{"key": bindparam(f"key{i}"), "window_start": bindparam(f"window{i}"), "count": 1}
                                 for i in range(count)])
    return stmt.on_conflict_do_update(index_elements=["key", "window_start"],
                                      set_={"count": table.c.count + 1}).returning(table.c.key, table.c.count)


def hit(statements: PlainStatements, *limits: tuple[str, str, tuple[int, int]]) -> None:
    """Count one event in each (bucket, identity, (COUNT, SECONDS)) for its current window, in the caller's write
    transaction; raise 429 past the first limit exceeded (COUNT 0 = no limit). The caller rolls back on the 429,
    so refused attempts are not counted."""
    now_s = int(time.time())
    counted = []
    for bucket, identity, (count_max, period) in limits:
        if count_max > 0:
            # Hashed so that client addresses are not kept in the clear.
            key = hashlib.sha256(f"{bucket}|{identity}".encode()).hexdigest()
            counted.append((key, now_s - now_s % period, count_max, period))
    if not counted:
        return
    params = {}
    for i, (key, window, _, _) in enumerate(counted):
        params[f"key{i}"], params[f"window{i}"] = key, window
    counts = dict(statements.rows(_upsert, params, len(counted)))
    for key, window, count_max, period in counted:
        if counts[key] > count_max:
            retry = window + period - now_s
            # A person reads whole minutes, rounded up (a wait of 61 s is 2 minutes); Retry-After keeps the seconds.
            minutes = max(1, -(-retry // 60))
            raise RateLimited(f"操作过于频繁，请在 {minutes} 分钟后再试", headers={"Retry-After": str(retry)})


def purge_stale() -> int:
    """Deletes the counters of windows that are over (in the caller's transaction; the job commits): those that
    began more than the longest configured window ago. A counter only matters during its own window."""
    longest = max(current_app.config[name][1] for name in LIMITS)
    now_s = int(now().timestamp())
    return db.session.execute(delete(RateLimitCounter).where(RateLimitCounter.window_start < now_s - longest)
                              .execution_options(synchronize_session=False)).rowcount
