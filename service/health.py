"""Liveness of the parts a client depends on: the database and the scheduler's heartbeat."""
from sqlalchemy import text

from models import db

from . import delivery, scheduling


def status() -> dict:
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # noqa: BLE001 - any failure here means "down", and must not become a 500
        db.session.rollback()
        database = "unavailable"
    return {"status": "ok" if database == "ok" else "degraded", "database": database,
            "scheduler": scheduler_heartbeat(), "events": events_backlog() if database == "ok" else None}


def events_backlog() -> dict | None:
    # The outbox's backlog: undelivered deliveries and the age of the oldest event still waiting.
    try:
        return delivery.backlog()
    except Exception:  # noqa: BLE001 - health must answer even when this read fails
        db.session.rollback()
        return None


def scheduler_heartbeat() -> dict:
    # The scheduler (jobs serve) writes its heartbeat into its lease row.
    return scheduling.heartbeat_status()
