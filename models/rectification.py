"""Rectification lists (一体验一反馈一清单) and their items with a full event history."""
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import BigIntPK, UTCDateTime, db, utcnow


class RectificationList(db.Model):
    __tablename__ = "rectification_lists"
    __table_args__ = (
        # A rating list covers one hall and one ISO week; the job relies on this to add to the right list.
        UniqueConstraint("source", "hall_code", "period", name="uq_rectification_lists_source_hall_period"),
        Index("ix_rectification_lists_hall_status", "hall_code", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16))  # rating | walkthrough
    hall_code: Mapped[str] = mapped_column(ForeignKey("halls.code"))
    period: Mapped[str | None] = mapped_column(String(10))  # ISO week, e.g. 2026-W48 (rating lists)
    walkthrough_id: Mapped[str | None] = mapped_column(ForeignKey("walkthroughs.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # open | closed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RectificationItem(db.Model):
    __tablename__ = "rectification_items"
    __table_args__ = (
        # A rating or a finding yields one item ever: the jobs' idempotency rests on this constraint.
        UniqueConstraint("source", "source_id", name="uq_rectification_items_source_source_id"),
        Index("ix_rectification_items_hall_updated", "hall_code", "updated_at"),
        Index("ix_rectification_items_updated_at", "updated_at"),
        Index("ix_rectification_items_status_due", "status", "due_date"),
        # The 核实 deadlines passed since the items' rollup was made (its readers count those items again).
        Index("ix_rectification_items_status_verify_due", "status", "verify_due"),
        Index("ix_rectification_items_source_on", "source", "source_on"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("rectification_lists.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # rating | walkthrough
    source_id: Mapped[str] = mapped_column(String(36))  # rating id or finding UUID
    # The day of the source (the rating's rated_on, the walkthrough's submission day): metrics group and filter
    # items by it without joining a million ratings.
    source_on: Mapped[date | None] = mapped_column(Date)
    hall_code: Mapped[str] = mapped_column(ForeignKey("halls.code"))
    # A named 差评: the rater was not anonymous and left a phone, so a callback is owed (实名差评回访率).
    named: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    item_code: Mapped[str | None] = mapped_column(String(64))
    window_code: Mapped[str | None] = mapped_column(String(32))
    staff_no: Mapped[str | None] = mapped_column(String(32))
    problem: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(32))
    # What people read: the tag's label (rating items), the finding category's label (walkthrough items).
    category_label: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(24))
    resolution: Mapped[str | None] = mapped_column(String(16))  # immediate | scheduled | explain
    measures: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_note: Mapped[str | None] = mapped_column(Text)
    # 核实 deadline, fixed at creation (RECTIFY_VERIFY_DAYS working days after source_on); verified_on_time is
    # null until the item is verified (verify, or an appeal as the outcome of 核实).
    verify_due: Mapped[date | None] = mapped_column(Date)
    verified_on_time: Mapped[bool | None] = mapped_column(Boolean)
    # The 整改 deadline: the due_days-th working day strictly after due_start (verify_due, so a late 核实 does not
    # move it; a denied appeal adds the working days it took to due_days); provisional if counted Mon–Fri.
    due_start: Mapped[date] = mapped_column(Date)
    due_days: Mapped[int] = mapped_column(SmallInteger)
    due_date: Mapped[date] = mapped_column(Date)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    overdue_flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The 整改 clock stops at submission: on_time is judged then (null again when rejected or reopened).
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    accept_wait_days: Mapped[int | None] = mapped_column(SmallInteger)  # working days submitted → accepted
    appealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the open appeal's start (pauses the clock)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # fed back to the rater
    # Why the rater was not told (no contact left, not reached after the callback attempts), recorded at submit.
    unreachable: Mapped[str | None] = mapped_column(Text)
    rater_satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    rater_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ItemEvent(db.Model):
    __tablename__ = "item_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("rectification_items.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)


class RectificationChange(db.Model):
    """A per-hall change counter, bumped by every transaction that changes that hall's items, so a poller's ETag
    costs one primary-key read per hall instead of an aggregate over all the hall's items."""

    __tablename__ = "rectification_changes"

    hall_code: Mapped[str] = mapped_column(ForeignKey("halls.code"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
