"""The working-day calendar's exceptions (holidays on weekdays, 调休 make-up workdays)."""
from datetime import date, datetime

from sqlalchemy import Boolean, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import UTCDateTime, db, utcnow


class WorkCalendarDay(db.Model):
    """A dated exception to "Mon–Fri are working days": a holiday on a weekday or a 调休 make-up workday."""

    __tablename__ = "work_calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(String(50))
    source: Mapped[str] = mapped_column(String(16))  # chinesecalendar | admin
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PublishedYear(db.Model):
    """A year whose whole calendar is known: imported from chinesecalendar, or published by the admin
    (`flask calendar publish YEAR`). Deadlines through any other year are counted Mon–Fri and provisional."""

    __tablename__ = "published_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(16))  # chinesecalendar | admin
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
