"""Daily rollups of ratings and cases (per hall, and per hall × window × staff × item), kept by a job so long
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
    """Per day and unit (hall, window, staff number, item): what item, window, staff and department rows read.

    Like DailyHallStats it counts ALL ratings of a day. A unit's ratings and its cases are separate rows (each with
    zeros in the other's columns) and readers sum; the unit columns may be null, so there is no natural key."""

    __tablename__ = "daily_unit_stats"
    __table_args__ = (Index("ix_daily_unit_stats_day", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    hall_code: Mapped[str] = mapped_column(ForeignKey("halls.code"))
    window_code: Mapped[str | None] = mapped_column(String(32))
    staff_no: Mapped[str | None] = mapped_column(String(32))
    item_code: Mapped[str | None] = mapped_column(String(64))
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
