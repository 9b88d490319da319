"""Job (nightly): bring the daily per-hall statistics rollup up to the last finished day."""
from service import jobruns, rollup

NAME = "refresh_stats"


def _work(now, watermark):
    return rollup.refresh(now), None


def run(holder: str | None = None):
    return jobruns.execute(NAME, _work, holder=holder)
