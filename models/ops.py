"""Operational tables: stored idempotent responses and rate-limit counters shared by every worker."""
from datetime import datetime

from sqlalchemy import BigInteger, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import UTCDateTime, db, utcnow


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    # The first response, minus any secret that can be derived again (the receipt).
    response_body: Mapped[str] = mapped_column(Text)
    resource_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class RateLimitCounter(db.Model):
    """Fixed-window counters kept in the database so every gunicorn worker and instance sees the same count."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
