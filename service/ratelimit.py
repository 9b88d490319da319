"""Fixed-window rate limits counted in the database, shared by every worker and instance."""
import hashlib
import time

from models import RateLimitCounter, db

from .errors import RateLimited
from .sqlutil import insert


def hit(bucket: str, identity: str, limit: tuple[int, int]) -> None:
    """Count one event for identity in its current window; raise 429 past the limit (COUNT 0 = no limit)."""
    count_max, period = limit
    if count_max <= 0:
        return
    now_s = int(time.time())
    window = now_s - now_s % period
    # Hashed so that client addresses are not kept in the clear.
    key = hashlib.sha256(f"{bucket}|{identity}".encode()).hexdigest()
    stmt = insert(RateLimitCounter).values(key=key, window_start=window, count=1)
    stmt = stmt.on_conflict_do_update(index_elements=["key", "window_start"],
                                      set_={"count": RateLimitCounter.count + 1}).returning(RateLimitCounter.count)
    count = db.session.execute(stmt).scalar_one()
    if count > count_max:
        retry = window + period - now_s
        raise RateLimited(f"提交过于频繁，请在 {retry} 秒后再试", headers={"Retry-After": str(retry)})
