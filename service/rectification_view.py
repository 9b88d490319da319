"""The rater's window onto the rectification of a 差评 (null until the collecting job has run)."""


def for_rating(rating) -> dict | None:
    # The rectification engine (issue 4) replaces this with the item's status, deadline, measures and result.
    return None


def list_code_for_walkthrough(walkthrough_id: str) -> str | None:
    """The code of a submitted walkthrough's rectification list, once the job has built it."""
    # The rectification engine (issue 4) replaces this.
    return None
