"""Staff, supervisor and admin accounts; only a hash of each bearer token is stored."""
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column

from .base import BigIntPK, UTCDateTime, db, utcnow


class Account(db.Model):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))  # staff | supervisor | admin
    hall_code: Mapped[str | None] = mapped_column(ForeignKey("halls.code"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
