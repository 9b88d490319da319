"""Job: every new effective 差评 becomes an item on its hall's list for the rating's ISO week."""
from service import jobruns, rectification_jobs

NAME = "collect_bad_ratings"


def run(holder: str | None = None):
    return jobruns.execute(NAME, rectification_jobs.collect_bad_ratings, holder=holder)
