"""Daily rollups of ratings and cases (per hall; per hall and window, staff or item), kept by a job so long
periods need not scan every rating."""
from datetime import date

from sqlalchemy import Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import BigIntPK, db


class DailyHallStats(db.Model):
    """Counts over ALL ratings of a day (effective or not); readers subtract the few that are not effective."""

    __tablename__ = "daily_hall_stats"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hall_code: Mapped[str] = mapped_column(ForeignKey("halls.code"), primary_key=True)
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    bad: Mapped[int] = mapped_column(Integer, default=0)
    good: Mapped[int] = mapped_column(Integer, default=0)
    # Cases completed that day that were rated or whose window closed, and those with a non-default rating.
    cases_due: Mapped[int] = mapped_column(Integer, default=0)
    cases_active: Mapped[int] = mapped_column(Integer, default=0)


class DailyUnitStats(db.Model):
    """Per day, hall and unit of one dimension (window, staff or item): what window, staff, item and department
    rows read. One dimension per row, not the cross product: a day's window × staff × item combinations grow with
    the ratings, the units of one dimension are bounded by the catalog, so a year reads the same whatever N is.

    Like DailyHallStats it counts ALL ratings of a day. A unit's ratings and its cases are separate rows (each with
    zeros in the other's columns) and readers sum; `unit` is null for a rating that names none (so no natural
    key: nulls are not equal in a unique constraint)."""

    __tablename__ = "daily_unit_stats"
    __table_args__ = (Index("ix_daily_unit_stats_dimension_day", "dimension", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    dimension: Mapped[str] = mapped_column(String(8))  # window | staff | item
    hall_code: Mapped[str] = mapped_column(ForeignKey("halls.code"))
    unit: Mapped[str | None] = mapped_column(String(64))  # window code, staff number or item code
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    bad: Mapped[int] = mapped_column(Integer, default=0)
    good: Mapped[int] = mapped_column(Integer, default=0)
    cases_due: Mapped[int] = mapped_column(Integer, default=0)
    cases_active: Mapped[int] = mapped_column(Integer, default=0)


class RollupState(db.Model):
    """How far each rollup is final: days up to `through` are read from the rollup, later days live."""

    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    through: Mapped[date] = mapped_column(Date)
