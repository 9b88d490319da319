"""临期督办: items whose deadline is the next working day (or today) get a `rectification.due_soon` event."""
from datetime import datetime

from sqlalchemy import and_

from models import RectificationItem

from . import outbox, workdays
from .rectification import CLOCK_STATUSES
from .timeutil import local_date


def flag_due_soon(*, now: datetime, watermark: dict | None) -> tuple[dict, None]:
    """One working day before the deadline: today is a working day and the deadline is the next one, or a missed
    day left the deadline at today. The event's unique key (item, deadline) makes a second run write nothing;
    nothing on the item changes, so pollers see no change."""
    today = local_date(now)
    calendar = workdays.load(today)
    if not calendar.is_workday(today):
        return {"items_flagged": 0}, None
    next_workday = calendar.add_working_days(today, 1).due
    item = RectificationItem
    made = outbox.items_due_soon(and_(item.status.in_(CLOCK_STATUSES), item.due_date >= today,
                                      item.due_date <= next_workday), now)
    return {"items_flagged": made}, None
