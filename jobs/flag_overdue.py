"""Job: an `overdue` event, once per deadline, for each item whose deadline has passed."""
from service import jobruns, rectification_jobs

NAME = "flag_overdue"


def run(holder: str | None = None):
    return jobruns.execute(NAME, rectification_jobs.flag_overdue, holder=holder)
