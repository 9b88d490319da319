"""Job: a `rectification.due_soon` event (临期督办), once per deadline, one working day before it."""
from service import due_soon, jobruns

NAME = "flag_due_soon"


def run(holder: str | None = None):
    return jobruns.execute(NAME, due_soon.flag_due_soon, holder=holder)
