"""Working days: the State Council calendar (holidays, 调休 make-up days) kept as a table; Mon–Fri where unpublished."""
from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar
from sqlalchemy import select

from models import WorkCalendarDay, db

from .errors import ValidationFailed
from .sqlutil import insert
from .timeutil import now

SOURCE_PACKAGE = "chinesecalendar"
SOURCE_ADMIN = "admin"


@dataclass(frozen=True)
class Deadline:
    due: date
    provisional: bool  # counted with "Mon–Fri" through a year that has no published calendar


class WorkCalendar:
    """The exceptions of a span of years, loaded once, so many deadlines cost one query."""

    def __init__(self, exceptions: dict[date, bool], published_years: set[int]):
        self.exceptions = exceptions
        self.published_years = published_years

    def is_workday(self, day: date) -> bool:
        if day in self.exceptions:
            return self.exceptions[day]
        return day.weekday() < 5

    def add_working_days(self, start: date, n: int) -> Deadline:
        """The Nth working day strictly after start (次日起算)."""
        day, counted, provisional = start, 0, False
        while counted < n:
            day += timedelta(days=1)
            if day.year not in self.published_years:
                provisional = True
            if self.is_workday(day):
                counted += 1
        return Deadline(day, provisional)


def load(first: date, last: date | None = None) -> WorkCalendar:
    """The calendar for deadlines starting between first and last (a year of margin for the counting)."""
    last = last or first
    lo, hi = date(first.year, 1, 1), date(last.year + 1, 12, 31)
    rows = db.session.execute(
        select(WorkCalendarDay.day, WorkCalendarDay.is_workday).where(WorkCalendarDay.day.between(lo, hi))).all()
    # A year counts as published once any of its days is in the table: every real calendar has holidays.
    return WorkCalendar({d: w for d, w in rows}, {d.year for d, _ in rows})


def deadline(start: date, n: int) -> Deadline:
    return load(start).add_working_days(start, n)


def package_exceptions() -> list[dict]:
    """Every exception chinesecalendar knows: weekday holidays and weekend make-up workdays."""
    rows = []
    for day, holiday in chinese_calendar.holidays.items():
        if day.weekday() < 5:
            rows.append({"day": day, "is_workday": False, "name": _holiday_name(holiday)})
    for day, holiday in chinese_calendar.workdays.items():
        if day.weekday() >= 5:
            rows.append({"day": day, "is_workday": True, "name": f"{_holiday_name(holiday)}调休上班"})
    return sorted(rows, key=lambda r: r["day"])


_CHINESE_NAMES = {h.value: h.chinese for h in chinese_calendar.Holiday}


def _holiday_name(holiday) -> str:
    return _CHINESE_NAMES.get(holiday, str(holiday))


def import_package() -> dict:
    """Seed (or refresh) from chinesecalendar; days an admin has set are never overwritten."""
    rows = package_exceptions()
    existing = {d: (w, src) for d, w, src in db.session.execute(
        select(WorkCalendarDay.day, WorkCalendarDay.is_workday, WorkCalendarDay.source))}
    changed = [r for r in rows if r["day"] not in existing
               or existing[r["day"]][1] == SOURCE_PACKAGE and existing[r["day"]][0] != r["is_workday"]]
    years = sorted({r["day"].year for r in rows})
    recounted = 0
    if changed:
        table = WorkCalendarDay.__table__
        stamp = now()
        stmt = insert(table).values([{**r, "source": SOURCE_PACKAGE, "updated_at": stamp} for r in rows])
        stmt = stmt.on_conflict_do_update(
            index_elements=["day"],
            set_={"is_workday": stmt.excluded.is_workday, "name": stmt.excluded.name, "updated_at": stamp},
            where=table.c.source == SOURCE_PACKAGE)
        db.session.execute(stmt)
        recounted = _refresh_open_deadlines(min(r["day"] for r in changed), max(r["day"] for r in changed))
    db.session.commit()
    return {"days": len(rows), "changed": len(changed), "first_year": years[0], "last_year": years[-1],
            "deadlines_changed": recounted}


def set_day(day: date, is_workday: bool, name: str | None) -> dict:
    """An admin correction (e.g. a newly published year's holiday); open deadlines are counted again."""
    if name is not None and len(name) > 50:
        raise ValidationFailed({"name": ["名称不能超过 50 个字"]})
    table = WorkCalendarDay.__table__
    stamp = now()
    stmt = insert(table).values(day=day, is_workday=is_workday, name=name, source=SOURCE_ADMIN, updated_at=stamp)
    stmt = stmt.on_conflict_do_update(index_elements=["day"], set_={
        "is_workday": is_workday, "name": name, "source": SOURCE_ADMIN, "updated_at": stamp})
    db.session.execute(stmt)
    changed = _refresh_open_deadlines(day, day)
    db.session.commit()
    return {"day": day.isoformat(), "is_workday": is_workday, "deadlines_changed": changed}


def _refresh_open_deadlines(first: date, last: date) -> int:
    from . import rectification  # late import: rectification counts its deadlines with this module

    # No deadline of at most a few weeks that started more than 90 days before the first changed day can reach it.
    return rectification.recount_deadlines(first - timedelta(days=90), last)
