"""The rectification figures: 差评整改率, 按期整改率, 回访率, 整改满意度, progress, and open-data rows.

差评 items are grouped like their ratings (hall, item, window, staff, the rating's day), and only items of
effective ratings count: an upheld appeal takes its item out with the rating.
"""
from sqlalchemy import and_, case, func, or_, select

from models import RectificationItem, RectificationList, ServiceItem, db

from . import catalog
from .rectification import CLOCK_STATUSES, STATUSES
from .sqlutil import month_of
from .timeutil import end_of_day, local_date, now, start_of_day
from .vocab import FINDING_CATEGORIES, GOOD_MIN_SCORE

# Public free-text columns of rectification items (full-text searchable in the open data file).
PUBLIC_TEXT_COLUMNS = ["category_label", "status_label"]


def _flag(condition):
    return func.sum(case((condition, 1), else_=0))


def _on_time():
    """Submitted by its deadline (the 整改 clock stops at submission; waiting for acceptance is the supervisor's)."""
    return RectificationItem.on_time.is_(True)


def _late_now(today):
    """Open and past its deadline while the hall holds it: counts as late now, not only once it closes."""
    return and_(RectificationItem.status.in_(CLOCK_STATUSES), RectificationItem.due_date < today)


def _verify_late_now(today):
    """Not yet verified and past its 核实 deadline: counts as verified late now."""
    return and_(RectificationItem.status == "pending", RectificationItem.verify_due < today)


def deadlines_passed(after, before):
    """The items whose figures move when the day goes from `after` to `before` with no write: their 整改 or 核实
    deadline lies in between (_late_now, _verify_late_now). The items' rollup counts these again."""
    item = RectificationItem
    return or_(and_(item.status.in_(CLOCK_STATUSES), item.due_date >= after, item.due_date < before),
               and_(item.status == "pending", item.verify_due >= after, item.verify_due < before))


def counted_items():
    """Items that count: an upheld appeal (the only way an item is dismissed) takes its item out with the rating."""
    return RectificationItem.status != "dismissed"


# The counts the rectification figures are made of, in the order item_counts gives them.
ITEM_COUNTS = ("items", "closed", "on_time", "on_time_base", "verified_on_time", "verify_base", "called_back", "named",
               "named_called_back", "accept_wait_days", "accepted", "satisfied", "answers")


def item_counts(today) -> list:
    """The ITEM_COUNTS over the items selected, open deadlines judged on `today`: one definition, read live and
    stored by the items' rollup."""
    item = RectificationItem
    return [func.count(), _flag(item.status == "closed"), _flag(_on_time()),
            _flag(or_(item.on_time.is_not(None), _late_now(today))),
            _flag(item.verified_on_time.is_(True)),
            _flag(or_(item.verified_on_time.is_not(None), _verify_late_now(today))),
            _flag(item.callback_at.is_not(None)), _flag(item.named.is_(True)),
            _flag(and_(item.named.is_(True), item.callback_at.is_not(None))),
            func.coalesce(func.sum(item.accept_wait_days), 0), _flag(item.accept_wait_days.is_not(None)),
            _flag(item.rater_satisfaction >= GOOD_MIN_SCORE), _flag(item.rater_satisfaction.is_not(None))]


def _item_keys(group_by: str):
    item = RectificationItem
    return {"hall": [item.hall_code], "item": [item.item_code], "window": [item.hall_code, item.window_code],
            "staff": [item.hall_code, item.staff_no], "day": [item.source_on],
            "month": [month_of(item.source_on)], "department": [ServiceItem.department]}[group_by]


def by_group(group_by, halls, period, key_of, source: str = "rating", *, today=None, where=()) -> dict:
    """{key: counts} of 差评 items, grouped like their ratings (items carry the rating's hall, item, window,
    staff and day), read from the items themselves. `source="walkthrough"` counts the items of walkthrough findings
    instead (hall, item, submission day). `today` judges open deadlines (default: today); `where` narrows the
    items (the items' rollup reads some of them this way)."""
    keys = _item_keys(group_by)
    stmt = (select(*keys, *item_counts(today or local_date(now())))
            .where(RectificationItem.source == source, counted_items(), *where,
                   RectificationItem.source_on >= period.start, RectificationItem.source_on <= period.end)
            .group_by(*keys))
    stmt = catalog.with_department(stmt, group_by, RectificationItem, RectificationItem.item_code)
    if halls is not None:
        stmt = stmt.where(RectificationItem.hall_code.in_(halls))
    width = len(keys)
    return {key_of(tuple(row[:width])): dict(zip(ITEM_COUNTS, (v or 0 for v in row[width:]), strict=True))
            for row in db.session.execute(stmt)}


def progress(halls, period) -> dict:
    """Items opened in the period (差评 and walkthrough findings): how many closed, on time, overdue now."""
    today = local_date(now())
    stmt = (select(func.count(), _flag(RectificationItem.status == "closed"), _flag(_on_time()),
                   _flag(_late_now(today)))
            .where(RectificationItem.created_at >= start_of_day(period.start),
                   RectificationItem.created_at <= end_of_day(period.end),
                   RectificationItem.status != "dismissed"))
    if halls is not None:
        stmt = stmt.where(RectificationItem.hall_code.in_(halls))
    opened, closed, on_time, overdue = db.session.execute(stmt).one()
    return {"opened": opened, "closed": closed or 0, "on_time": on_time or 0, "overdue": overdue or 0}


def public_items():
    """Rectification items for the open data file: status and dates, no problem text (it may quote a rater)."""
    today = local_date(now())
    stmt = (select(RectificationItem.id, RectificationList.code, RectificationItem.source,
                   RectificationItem.hall_code, RectificationItem.item_code, RectificationItem.category,
                   RectificationItem.status, RectificationItem.due_date, RectificationItem.closed_at)
            .join(RectificationList, RectificationList.id == RectificationItem.list_id)
            .where(RectificationItem.status != "dismissed").order_by(RectificationItem.id))
    for row in db.session.execute(stmt.execution_options(yield_per=2000)):
        yield {"id": row.id, "list_code": row.code, "source": row.source, "hall_code": row.hall_code,
               "item_code": row.item_code, "category": row.category,
               "category_label": FINDING_CATEGORIES.get(row.category, "差评" if row.source == "rating" else ""),
               "status": row.status, "status_label": STATUSES[row.status], "due_date": row.due_date.isoformat(),
               "closed_on": local_date(row.closed_at).isoformat() if row.closed_at else None,
               "overdue": row.status in CLOCK_STATUSES and today > row.due_date}
