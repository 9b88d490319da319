"""Console sign-ins: one row per browser session of a staff or supervisor account; only a hash of its cookie is kept."""
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import UTCDateTime, db, utcnow


class ConsoleSession(db.Model):
    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set by sign-out: the cookie then opens nothing even if it is replayed.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
