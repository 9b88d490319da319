"""Catalog tables: halls (and their hierarchy), windows, service items and rating tags."""
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from .base import BigIntPK, UTCDateTime, db, utcnow


class Hall(db.Model):
    __tablename__ = "halls"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("halls.code"), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    # Hall policy: give a 基本满意 default rating to cases left unrated past the window.
    default_rating_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Window(db.Model):
    __tablename__ = "windows"
    __table_args__ = (UniqueConstraint("hall_code", "code"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    hall_code: Mapped[str] = mapped_column(ForeignKey("halls.code"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))


class ServiceItem(db.Model):
    __tablename__ = "service_items"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(100))


class HallItem(db.Model):
    """Which service items a hall offers."""

    __tablename__ = "hall_items"

    hall_code: Mapped[str] = mapped_column(ForeignKey("halls.code"), primary_key=True)
    item_code: Mapped[str] = mapped_column(ForeignKey("service_items.code"), primary_key=True, index=True)


class Tag(db.Model):
    __tablename__ = "tags"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(50))
    applies_to: Mapped[str] = mapped_column(String(8))  # good | bad | any
