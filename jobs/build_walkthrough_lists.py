"""Job: each submitted walkthrough gets its one rectification list, with an item per finding that needs one."""
from service import jobruns, rectification_jobs

NAME = "build_walkthrough_lists"


def run(holder: str | None = None):
    return jobruns.execute(NAME, rectification_jobs.build_walkthrough_lists, holder=holder)
