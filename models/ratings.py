"""Cases (办件) with their single-use rating token, and ratings (好差评) with their reason tags."""
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    FetchedValue,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import BigIntPK, UTCDateTime, db, utcnow


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("hall_code", "case_no"), Index("ix_cases_hall_completed", "hall_code",
                                                                      "completed_at"),
                      # The days of cases not yet final (the last rating window), read live across every hall.
                      Index("ix_cases_completed_at", "completed_at"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    case_no: Mapped[str] = mapped_column(String(64))
    hall_code: Mapped[str] = mapped_column(ForeignKey("halls.code"))
    item_code: Mapped[str] = mapped_column(ForeignKey("service_items.code"))
    window_code: Mapped[str | None] = mapped_column(String(32))
    staff_no: Mapped[str | None] = mapped_column(String(32))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rate_before: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # sha256 of the rating token; the token itself is derived (HMAC) and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rating(db.Model):
    __tablename__ = "ratings"
    __table_args__ = (
        Index("ix_ratings_hall_rated_on", "hall_code", "rated_on"),
        # Covers every grouping of the metrics and rankings (hall, window, item, staff by day), so a month's
        # figures are read from the index alone.
        Index("ix_ratings_rated_on_cover", "rated_on", "hall_code", "window_code", "item_code", "staff_no", "score",
              "effective"),
        # The few ratings taken out by an upheld appeal, subtracted from the daily rollups. Partial, so that the
        # planner never prefers it to the covering index for the (many) effective ratings.
        Index("ix_ratings_not_effective", "rated_on", sqlite_where=text("effective IS 0"),
              postgresql_where=text("effective IS false")),
        # An Idempotency-Key is unique within its client's scope. Partial: most ratings carry no key, and a rating
        # whose key expired (or was purged) leaves the index.
        Index("uq_ratings_idempotency", "idempotency_scope", "idempotency_key", unique=True,
              sqlite_where=text("idempotency_key IS NOT NULL"), postgresql_where=text("idempotency_key IS NOT NULL")),
        # The collecting job's window on PostgreSQL; SQLite leaves txid empty and needs no index on it.
        Index("ix_ratings_txid", "txid").ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # 一次一评: the unique constraint, not a prior SELECT, is what stops a second rating of a case.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), unique=True)
    hall_code: Mapped[str] = mapped_column(ForeignKey("halls.code"))
    item_code: Mapped[str | None] = mapped_column(ForeignKey("service_items.code"))
    window_code: Mapped[str | None] = mapped_column(String(32))
    staff_no: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[int] = mapped_column(SmallInteger)
    channel: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    name_masked: Mapped[str | None] = mapped_column(String(50))
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_masked: Mapped[str | None] = mapped_column(String(16))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # False once an appeal against it is upheld: it then leaves every metric.
    effective: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Calendar date in Asia/Shanghai, so day/month grouping is plain SQL on both databases.
    rated_on: Mapped[date] = mapped_column(Date)
    # The Idempotency-Key the rating was created under (null without one, or once expired): the client's scope as
    # a keyed hash (never a token or an address in clear), the key, and a keyed hash of the request body. A replay
    # answers from this row; no response is stored.
    idempotency_scope: Mapped[str | None] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    # PostgreSQL: the id of the transaction that wrote it (a server default, migration 0015), which
    # collect_bad_ratings follows instead of the id: a held-up rating commits below ids already committed and
    # collected (sqlutil.settled_below). Empty on SQLite, where the id order is the commit order.
    txid: Mapped[int | None] = mapped_column(BigInteger, server_default=FetchedValue())

    tags: Mapped[list["RatingTag"]] = relationship(lazy="selectin", cascade="all, delete-orphan")


class RatingTag(db.Model):
    __tablename__ = "rating_tags"

    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id", ondelete="CASCADE"), primary_key=True)
    tag_code: Mapped[str] = mapped_column(ForeignKey("tags.code"), primary_key=True, index=True)


class RatingFollowUp(db.Model):
    """追评: a rater's one follow-up to their rating, inside the rating window."""

    __tablename__ = "rating_follow_ups"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # Once per rating: the unique key, not a prior SELECT, stops a second one.
    rating_id: Mapped[int] = mapped_column(ForeignKey("ratings.id", ondelete="CASCADE"), unique=True)
    comment: Mapped[str] = mapped_column(Text)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
