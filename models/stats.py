"""Daily per-hall rollups of ratings and cases, kept by a job so long periods need not scan every rating."""
from datetime import date

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import db


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


class RollupState(db.Model):
    """How far each rollup is final: days up to `through` are read from the rollup, later days live."""

    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    through: Mapped[date] = mapped_column(Date)
