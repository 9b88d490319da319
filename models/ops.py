"""Operational tables: rate-limit counters shared by every worker (idempotency keys live on their ratings)."""
from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import db


class RateLimitCounter(db.Model):
    """Fixed-window counters kept in the database so every gunicorn worker and instance sees the same count."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
