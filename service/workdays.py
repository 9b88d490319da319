"""Working days: the State Council calendar (holidays, 调休 make-up days) kept as a table; Mon–Fri where unpublished."""
from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar
from sqlalchemy import select

from models import PublishedYear, WorkCalendarDay, db

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

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]: how long something waited, counted like a deadline (次日起算)."""
        return sum(1 for k in range(1, (end - start).days + 1) if self.is_workday(start + timedelta(days=k)))


def load(first: date, last: date | None = None) -> WorkCalendar:
    """The calendar for deadlines starting between first and last (a year of margin for the counting)."""
    last = last or first
    lo, hi = date(first.year, 1, 1), date(last.year + 1, 12, 31)
    rows = db.session.execute(
        select(WorkCalendarDay.day, WorkCalendarDay.is_workday).where(WorkCalendarDay.day.between(lo, hi))).all()
    # A year counts as published only as a whole (the package's years, or the admin's `calendar publish`): one
    # day entered for it says nothing about the rest of its holidays.
    years = set(db.session.execute(select(PublishedYear.year).where(
        PublishedYear.year.between(lo.year, hi.year))).scalars())
    return WorkCalendar({d: w for d, w in rows}, years)


def deadline(start: date, n: int) -> Deadline:
    return load(start).add_working_days(start, n)


def working_days_between(start: date, end: date) -> int:
    return load(start, end).working_days_between(start, end) if end > start else 0


def package_years() -> list[int]:
    """The years chinesecalendar covers in full."""
    return sorted({d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays})


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
