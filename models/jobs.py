"""Scheduled job bookkeeping: one row per run, and the lease that keeps one scheduler per deployment."""
from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import BigIntPK, UTCDateTime, db, utcnow


class JobRun(db.Model):
    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job", "started_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))
    holder: Mapped[str | None] = mapped_column(String(100))  # the scheduler process (or CLI) that ran it
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The scheduler lease generation the run started under (its fencing token); null outside the lease (CLI, tests).
    generation: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # running | ok | failed | interrupted | fenced
    counts: Mapped[dict | None] = mapped_column(JSON)
    # Where the next run starts looking (e.g. the highest rating id seen); saved with the run's work.
    watermark: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class SchedulerLease(db.Model):
    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The fencing token: raised each time another holder takes the lease over. A job's work commits only while the
    # generation it started under is still the lease's, so a scheduler that was paused past its lease cannot
    # commit work after another one took over.
    generation: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
