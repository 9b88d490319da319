"""The rater's receipt: the key to their own rating, for the rating and the rectification modules alike."""
from .security import derive, same


def receipt_for(rating_id: int) -> str:
    """Derived from the server key, so it is neither stored nor replayed from storage."""
    return derive("receipt", str(rating_id))


def receipt_matches(rating_id: int, receipt: str | None) -> bool:
    return same(receipt_for(rating_id), receipt or "")
