"""Job: cases past their rating window with no rating get the hall's default rating (基本满意, is_default)."""
from service import jobruns, rectification_jobs

NAME = "default_ratings"


def run(holder: str | None = None):
    return jobruns.execute(NAME, rectification_jobs.default_ratings, holder=holder)
