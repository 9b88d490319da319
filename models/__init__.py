"""SQLAlchemy tables only: columns, constraints, indexes and relationships, no business logic."""
from .accounts import Account
from .base import Base, db, utcnow
from .catalog import Hall, HallItem, ServiceItem, Tag, Window
from .jobs import JobRun, SchedulerLease
from .ops import IdempotencyKey, RateLimitCounter
from .ratings import Case, Rating, RatingTag
from .rectification import ItemEvent, RectificationChange, RectificationItem, RectificationList, WorkCalendarDay
from .walkthroughs import Finding, Walkthrough

__all__ = [
    "Account", "Base", "Case", "Hall", "HallItem", "IdempotencyKey", "RateLimitCounter", "Rating", "RatingTag",
    "ItemEvent", "JobRun", "RectificationChange", "RectificationItem", "RectificationList", "SchedulerLease", "WorkCalendarDay",
    "ServiceItem", "Tag", "Walkthrough", "Finding", "Window", "db", "utcnow",
]
