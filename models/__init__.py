"""SQLAlchemy tables only: columns, constraints, indexes and relationships, no business logic."""
from .accounts import Account
from .base import Base, db, utcnow
from .calendar import PublishedYear, WorkCalendarDay
from .catalog import Hall, HallItem, ServiceItem, Tag, Window
from .console import ConsoleSession
from .events import Delivery, OutboxEvent, Subscription
from .jobs import JobRun, SchedulerLease
from .ops import RateLimitCounter
from .ratings import Case, Rating, RatingFollowUp, RatingTag
from .rectification import ItemEvent, RectificationChange, RectificationItem, RectificationList
from .stats import DailyUnitStats, ItemStats, MonthlyUnitStats, RollupState
from .walkthroughs import Finding, Walkthrough

__all__ = [
    "Account", "Base", "Case", "ConsoleSession", "DailyUnitStats", "Delivery", "Finding", "Hall", "HallItem",
    "ItemEvent", "ItemStats", "JobRun", "MonthlyUnitStats", "OutboxEvent", "PublishedYear", "RateLimitCounter",
    "Rating", "RatingFollowUp", "RatingTag", "RectificationChange", "RectificationItem", "RectificationList",
    "RollupState", "SchedulerLease", "ServiceItem", "Subscription", "Tag", "Walkthrough", "Window", "WorkCalendarDay",
    "db", "utcnow",
]
