"""The monthly report of a hall and the halls under it: headline rates, departments, tags, walkthroughs, rankings."""
from sqlalchemy import func, select

from models import Finding, Hall, Walkthrough, db

from . import catalog, metrics, rankings, rectification_metrics
from .auth import Principal
from .timeutil import end_of_day, local_date, now, start_of_day
from .vocab import FINDING_CATEGORIES, STEPS

HEADLINE = ("good_rate", "bad_rate", "active_rate", "rectified_rate", "on_time_rate", "verify_on_time_rate",
            "callback_rate", "named_callback_rate", "answer_satisfaction", "accept_wait_days")


def default_month() -> str:
    """The last complete month."""
    first = local_date(now()).replace(day=1)
    return rankings.previous_month(f"{first.year:04d}-{first.month:02d}")


def _totals(principal, hall, period):
    rows = metrics.stats(principal, hall=hall, start=period.start, end=period.end, group_by="month")
    if not rows:
        return {"ratings": 0, "bad": 0, **dict.fromkeys(HEADLINE)}
    if len(rows) == 1:
        return {k: v for k, v in rows[0].items() if k not in ("key", "label")}
    raise AssertionError("a month period yields one row")


def _findings(halls, period) -> dict:
    base = (select(Finding).join(Walkthrough, Walkthrough.id == Finding.walkthrough_id)
            .where(Walkthrough.status == "submitted", Walkthrough.started_at >= start_of_day(period.start),
                   Walkthrough.started_at <= end_of_day(period.end)))
    walk = (select(func.count()).select_from(Walkthrough)
            .where(Walkthrough.status == "submitted", Walkthrough.started_at >= start_of_day(period.start),
                   Walkthrough.started_at <= end_of_day(period.end)))
    if halls is not None:
        base = base.where(Walkthrough.hall_code.in_(halls))
        walk = walk.where(Walkthrough.hall_code.in_(halls))
    sub = base.subquery()

    def grouped(column, labels):
        counts = dict(db.session.execute(select(column, func.count()).group_by(column)).all())
        return [{"code": code, "label": label, "count": counts.get(code, 0)} for code, label in labels.items()
                if counts.get(code)]

    return {
        "walkthroughs": db.session.execute(walk).scalar_one(),
        "findings": db.session.execute(select(func.count()).select_from(sub)).scalar_one(),
        "needing_rectification": db.session.execute(
            select(func.count()).select_from(sub).where(sub.c.needs_rectification.is_(True))).scalar_one(),
        "by_category": grouped(sub.c.category, FINDING_CATEGORIES),
        "by_step": grouped(sub.c.step, STEPS),
    }


def monthly(principal: Principal, *, hall: str | None, month: str | None) -> dict:
    month = month or default_month()
    period = rankings.month_period(month)
    last = rankings.month_period(rankings.previous_month(month))
    if hall is None and principal.halls is not None:
        hall = principal.hall_code
    halls = metrics.halls_in_scope(principal, hall)
    current = _totals(principal, hall, period)
    before = _totals(principal, hall, last)
    change = {k: None if current[k] is None or before[k] is None else round(current[k] - before[k], 4)
              for k in HEADLINE}
    daily = metrics.stats(principal, hall=hall, start=period.start, end=period.end, group_by="day")
    tags = metrics.tag_stats(principal, hall=hall, start=period.start, end=period.end)
    by_window = rankings.rankings(principal, month=month, by="window", hall=hall)["items"]
    by_item = rankings.rankings(principal, month=month, by="item", hall=hall)["items"]
    # Every department's figures, 未指定部门 included, so the table adds up to the headline's ratings.
    by_department = metrics.stats(principal, hall=hall, start=period.start, end=period.end, group_by="department")
    hall_row = catalog.get_hall(hall) if hall else None
    return {
        "month": month,
        "hall": {"code": hall_row.code, "name": hall_row.name} if hall_row else {"code": None, "name": "全部大厅"},
        "halls_covered": len(halls) if halls is not None else db.session.execute(
            select(func.count()).select_from(Hall)).scalar_one(),
        "headline": current,
        "last_month": before,
        "change": change,
        "daily": [{"day": r["key"], "ratings": r["ratings"], "bad": r["bad"], "bad_rate": r["bad_rate"]}
                  for r in daily],
        "tags": [t for t in tags["items"] if t["count"]],
        "walkthroughs": _findings(halls, period),
        "rectification": rectification_metrics.progress(halls, period),
        "worst_windows": by_window[:5],
        "worst_items": by_item[:5],
        "by_department": by_department,
        "generated_at": now(),
    }
