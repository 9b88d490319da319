"""Job: close lists whose every item is closed (a rating list once its week is over)."""
from service import jobruns, rectification_jobs

NAME = "close_finished_lists"


def run(holder: str | None = None):
    return jobruns.execute(NAME, rectification_jobs.close_finished_lists, holder=holder)
