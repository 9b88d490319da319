"""The rater's window onto the rectification of a 差评 (null until the collecting job has run)."""


def for_rating(rating) -> dict | None:
    from . import rectification

    item = rectification.item_for_rating(rating.id)
    return None if item is None else rectification.rater_view(item)


def list_code_for_walkthrough(walkthrough_id: str) -> str | None:
    """The code of a submitted walkthrough's rectification list, once the job has built it."""
    from . import rectification

    return rectification.list_code_for_walkthrough(walkthrough_id)
