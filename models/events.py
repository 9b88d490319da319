"""Events out: the transactional outbox, the subscriptions that receive it, and one delivery per event and receiver."""
from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import BigIntPK, UTCDateTime, db, utcnow


class OutboxEvent(db.Model):
    """One row per change worth reporting, written in the transaction of the change itself."""

    __tablename__ = "outbox_events"
    # The fan-out's window on PostgreSQL; SQLite leaves txid empty and needs no index on it.
    __table_args__ = (Index("ix_outbox_events_txid", "txid").ddl_if(dialect="postgresql"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(40))
    # What makes the event unique (e.g. "rectification.overdue:17:2026-12-01"): a job run twice, or a second
    # scheduler, hits this constraint instead of writing a second event for the same change.
    key: Mapped[str] = mapped_column(String(160), unique=True)
    # Deliveries of one subject (a rating and its item, a list, a walkthrough) go out in event order.
    subject: Mapped[str] = mapped_column(String(80))
    hall_code: Mapped[str | None] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict] = mapped_column(JSON)
    # PostgreSQL: the id of the transaction that wrote it (a server default, migration 0014). An id comes from a
    # sequence when the row is written, so a long transaction commits events below ids already committed; the
    # fan-out follows these instead (service/delivery.settled_below). Empty on SQLite: one writer at a time, so
    # there the id order is the commit order.
    txid: Mapped[int | None] = mapped_column(BigInteger, server_default=FetchedValue())


class Subscription(db.Model):
    """A receiver of events: a department system (webhook) or the provincial 好差评 platform."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    events: Mapped[list] = mapped_column(JSON)
    format: Mapped[str] = mapped_column(String(16))  # webhook | provincial
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)  # the signing secret, encrypted at rest
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    # Events not yet given a delivery row for this subscription: on SQLite those with an id above
    # fanned_event_id, on PostgreSQL those written by a transaction from fanned_txid on.
    fanned_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    fanned_txid: Mapped[int] = mapped_column(BigInteger, default=0)
    # The last event id when it was created: it receives the events after that, not the history.
    start_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    # One deliverer works on a subscription at a time (its order), until claimed_until.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Delivery(db.Model):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_deliveries_subscription_id_event_id"),
        Index("ix_deliveries_subscription_status_event", "subscription_id", "status", "event_id"),
        Index("ix_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id"), index=True)
    subject: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(SmallInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
