"""SQLAlchemy tables only: columns, constraints, indexes and relationships, no business logic."""
from .accounts import Account
from .base import Base, db, utcnow
from .catalog import Hall, HallItem, ServiceItem, Tag, Window
from .ops import IdempotencyKey, RateLimitCounter
from .ratings import Case, Rating, RatingTag
from .stats import DailyHallStats, RollupState
from .walkthroughs import Finding, Walkthrough

__all__ = [
    "Account", "Base", "Case", "DailyHallStats", "RollupState", "Hall", "HallItem", "IdempotencyKey", "RateLimitCounter", "Rating", "RatingTag",
    "ServiceItem", "Tag", "Walkthrough", "Finding", "Window", "db", "utcnow",
]
