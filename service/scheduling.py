"""The scheduler lease: one `flask jobs serve` per deployment holds it, renews it as its heartbeat, others wait."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from models import SchedulerLease, db

from .database import writing
from .sqlutil import insert
from .timeutil import iso, now

LEASE = "scheduler"


def acquire(holder: str, seconds: int) -> bool:
    """Take the lease if it is free, expired or already ours; the database decides between two contenders."""
    with writing():
        stamp = now()
        table = SchedulerLease.__table__
        stmt = insert(table).values(name=LEASE, holder=holder, expires_at=stamp + timedelta(seconds=seconds),
                                    heartbeat_at=stamp)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": holder, "expires_at": stmt.excluded.expires_at, "heartbeat_at": stamp},
            where=(table.c.expires_at < stamp) | (table.c.holder == holder))
        db.session.execute(stmt)
        owner = db.session.execute(select(SchedulerLease.holder).where(SchedulerLease.name == LEASE)).scalar()
        db.session.commit()
    return owner == holder


def current_holder() -> str | None:
    holder = db.session.execute(select(SchedulerLease.holder).where(SchedulerLease.name == LEASE)).scalar()
    db.session.rollback()  # end the read, so a following acquire() begins its own write transaction
    return holder


def renew(holder: str, seconds: int) -> bool:
    """Extend our lease (this is also the heartbeat); False when another process has taken it over."""
    with writing():
        stamp = now()
        done = db.session.execute(update(SchedulerLease).where(
            SchedulerLease.name == LEASE, SchedulerLease.holder == holder).values(
            expires_at=stamp + timedelta(seconds=seconds), heartbeat_at=stamp)).rowcount
        db.session.commit()
    return done == 1


def release(holder: str) -> None:
    """On a clean shutdown the lease expires at once, so a standby scheduler takes over without waiting."""
    with writing():
        db.session.execute(update(SchedulerLease).where(
            SchedulerLease.name == LEASE, SchedulerLease.holder == holder).values(expires_at=now()))
        db.session.commit()


def heartbeat_status() -> dict:
    try:
        beat = db.session.execute(select(SchedulerLease.heartbeat_at).where(SchedulerLease.name == LEASE)).scalar()
    except Exception:  # noqa: BLE001 - health must answer even when the database does not
        db.session.rollback()
        return {"last_heartbeat": None, "stale": True}
    limit = timedelta(seconds=current_app.config["SCHEDULER_STALE_SECONDS"])
    return {"last_heartbeat": iso(beat), "stale": beat is None or now() - beat > limit}
