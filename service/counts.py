"""The counts the rating metrics are made of (好评率, 差评率, 主动评价率), as SQL aggregates: one definition, read
live from ratings and cases by service/metrics.py and stored per day by the rollup (service/rollup.py)."""
from sqlalchemy import and_, case, func, or_

from models import Case, Rating

from .vocab import BAD_MAX_SCORE

RATING_COUNTS = ("ratings", "bad", "good")
CASE_COUNTS = ("cases_due", "cases_active")


def _flag(condition):
    return func.sum(case((condition, 1), else_=0))


def rating_counts() -> list:
    """ratings, 差评 (bad) and the others (good) among the ratings selected."""
    return [func.count(), _flag(Rating.score <= BAD_MAX_SCORE), _flag(Rating.score > BAD_MAX_SCORE)]


def case_counts(moment, counted) -> list:
    """主动评价率's base and numerator over cases outer-joined to their rating: the cases rated (by a rating that
    `counted` accepts) or whose rating window had closed at `moment`, and those rated not by default. Live,
    `counted` is the effective ratings; the rollup counts every rating, and its readers subtract the others."""
    rated = and_(Rating.id.is_not(None), counted)
    due = or_(rated, and_(Rating.id.is_(None), Case.rate_before <= moment))
    return [_flag(due), _flag(and_(rated, Rating.is_default.is_(False)))]
