"""Job: clear Idempotency-Keys past IDEMPOTENCY_TTL_HOURS and delete the rate-limit counters of windows that are
over, so neither grows with every rating ever made. Each run touches only what expired since the last one."""
from service import idempotency, jobruns, ratelimit

NAME = "purge_expired"


def _work(now, watermark):
    keys, watermark = idempotency.purge_expired(now, watermark)
    return {"idempotency_keys": keys, "rate_limit_counters": ratelimit.purge_stale()}, watermark


def run(holder: str | None = None):
    return jobruns.execute(NAME, _work, holder=holder)
