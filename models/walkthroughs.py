"""Walkthroughs (我陪群众走流程) and their findings, keyed by client-generated UUIDs for offline tablets."""
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import BigIntPK, UTCDateTime, db, utcnow


class Walkthrough(db.Model):
    __tablename__ = "walkthroughs"
    __table_args__ = (
        Index("ix_walkthroughs_hall_started", "hall_code", "started_at"),
        Index("ix_walkthroughs_status_submitted", "status", "submitted_at"),
    )

    # Internal row number: a stable keyset for cursor pages and job watermarks.
    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # The client's UUID (lower-case canonical form) is the walkthrough's id in the API.
    id: Mapped[str] = mapped_column(String(36), unique=True)
    hall_code: Mapped[str] = mapped_column(ForeignKey("halls.code"))
    item_code: Mapped[str] = mapped_column(ForeignKey("service_items.code"))
    mode: Mapped[str] = mapped_column(String(24))
    observer_name: Mapped[str] = mapped_column(String(50))
    observer_title: Mapped[str | None] = mapped_column(String(50))
    citizen_name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    citizen_name_masked: Mapped[str | None] = mapped_column(String(50))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # draft | submitted
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # sha256 of the canonical record as last stored: a replayed sync compares it and reports "unchanged".
    content_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    findings: Mapped[list["Finding"]] = relationship(
        back_populates="walkthrough", cascade="all, delete-orphan", order_by="Finding.position", lazy="selectin")


class Finding(db.Model):
    __tablename__ = "findings"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # client UUID
    walkthrough_id: Mapped[str] = mapped_column(ForeignKey("walkthroughs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(8))
    suggestion: Mapped[str | None] = mapped_column(Text)
    needs_rectification: Mapped[bool] = mapped_column(Boolean)
    wait_minutes: Mapped[int | None] = mapped_column(Integer)
    handle_minutes: Mapped[int | None] = mapped_column(Integer)

    walkthrough: Mapped[Walkthrough] = relationship(back_populates="findings")
