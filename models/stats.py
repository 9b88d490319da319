"""Rollups of ratings, cases and rectification items (per day and per month; per hall, window, staff or item), kept
by a job so long periods read days × units or months × units, never every rating or item."""
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import BigIntPK, UTCDateTime, db


class DailyUnitStats(db.Model):
    """Per day, hall and unit of one dimension: the hall itself, or one window, staff member or item. One dimension
    per row, not the cross product: a day's window × staff × item combinations grow with the ratings, the units of
    one dimension are bounded by the catalog, so a year reads the same whatever the number of ratings.

    It counts ALL ratings of a day (effective or not); readers subtract the few that are not effective. A unit's
    ratings and its cases are separate rows (each with zeros in the other's columns) and readers sum; `unit` is null
    for the hall's own rows and for a rating that names no unit (so no natural key: nulls are not equal in a unique
    constraint)."""

    __tablename__ = "daily_unit_stats"
    __table_args__ = (Index("ix_daily_unit_stats_dimension_day", "dimension", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    dimension: Mapped[str] = mapped_column(String(8))  # hall | window | staff | item
    hall_code: Mapped[str] = mapped_column(ForeignKey("halls.code"))
    unit: Mapped[str | None] = mapped_column(String(64))  # window code, staff number or item code
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    bad: Mapped[int] = mapped_column(Integer, default=0)
    good: Mapped[int] = mapped_column(Integer, default=0)
    # Cases completed that day that were rated or whose window closed, and those with a non-default rating.
    cases_due: Mapped[int] = mapped_column(Integer, default=0)
    cases_active: Mapped[int] = mapped_column(Integer, default=0)


class MonthlyUnitStats(db.Model):
    """The sums of DailyUnitStats over each month whose every day is rolled up (`month` is its first day): a year
    reads twelve months × units, and days only at the edges of a range that does not start or end with a month."""

    __tablename__ = "monthly_unit_stats"
    __table_args__ = (Index("ix_monthly_unit_stats_dimension_month", "dimension", "month"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    month: Mapped[date] = mapped_column(Date)
    dimension: Mapped[str] = mapped_column(String(8))
    hall_code: Mapped[str] = mapped_column(ForeignKey("halls.code"))
    unit: Mapped[str | None] = mapped_column(String(64))
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    bad: Mapped[int] = mapped_column(Integer, default=0)
    good: Mapped[int] = mapped_column(Integer, default=0)
    cases_due: Mapped[int] = mapped_column(Integer, default=0)
    cases_active: Mapped[int] = mapped_column(Integer, default=0)


class ItemStats(db.Model):
    """The rectification figures' counts of items (not dismissed) by their source day: rows of a day (`day` set)
    and of a whole month (`day` null), per source, dimension, hall and unit, as the items stood at the rollup's
    moment (rollup_state `items`). Items change after that: readers take the days whose items changed since then
    from the items themselves, and count the deadlines passed since the rollup's day."""

    __tablename__ = "item_stats"
    __table_args__ = (Index("ix_item_stats_source_dimension_month_day", "source", "dimension", "month", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    month: Mapped[date] = mapped_column(Date)
    day: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16))  # rating | walkthrough
    dimension: Mapped[str] = mapped_column(String(8))
    hall_code: Mapped[str] = mapped_column(ForeignKey("halls.code"))
    unit: Mapped[str | None] = mapped_column(String(64))
    items: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)
    on_time_base: Mapped[int] = mapped_column(Integer, default=0)
    verified_on_time: Mapped[int] = mapped_column(Integer, default=0)
    verify_base: Mapped[int] = mapped_column(Integer, default=0)
    called_back: Mapped[int] = mapped_column(Integer, default=0)
    named: Mapped[int] = mapped_column(Integer, default=0)
    named_called_back: Mapped[int] = mapped_column(Integer, default=0)
    accept_wait_days: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)
    answers: Mapped[int] = mapped_column(Integer, default=0)


class RollupState(db.Model):
    """How far each rollup is final: days up to `through` are read from the rollup, later days live. The items'
    rollup (`items`) holds the day its deadlines were judged on (`through`), its moment (`at`) and the sum of the
    halls' change counters it saw (`seq`), so readers know whether any item changed since."""

    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    through: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seq: Mapped[int | None] = mapped_column(BigInteger)
