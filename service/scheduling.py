"""The scheduler lease: one `flask jobs serve` per deployment holds it, renews it as its heartbeat, others wait.

The lease carries a generation (a fencing token) that goes up each time another holder takes it over. A scheduler
can be paused (SIGSTOP, a VM freeze, a long GC) past its lease while another takes over; when it resumes it still
believes it leads until its next heartbeat. So a job's work commits only after `holds()` confirmed, inside the
work's own transaction, that the generation it started under is still the lease's (jobruns.execute)."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import case, select, update

from models import SchedulerLease, db

from .database import writing
from .sqlutil import insert
from .timeutil import iso, now

LEASE = "scheduler"


def acquire(holder: str, seconds: int) -> int | None:
    """Take the lease if it is free, expired or already ours; the database decides between two contenders.
    Returns the lease generation when we hold it (1 or more), None when another holder does. Taking it over from
    another holder raises the generation; renewing or re-taking our own lease keeps it."""
    with writing():
        stamp = now()
        table = SchedulerLease.__table__
        stmt = insert(table).values(name=LEASE, holder=holder, expires_at=stamp + timedelta(seconds=seconds),
                                    heartbeat_at=stamp, generation=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": holder, "expires_at": stmt.excluded.expires_at, "heartbeat_at": stamp,
                  "generation": case((table.c.holder == holder, table.c.generation),
                                     else_=table.c.generation + 1)},
            where=(table.c.expires_at < stamp) | (table.c.holder == holder))
        db.session.execute(stmt)
        owner, generation = db.session.execute(
            select(SchedulerLease.holder, SchedulerLease.generation).where(SchedulerLease.name == LEASE)).one()
        db.session.commit()
    return generation if owner == holder else None


def holds(holder: str, generation: int) -> bool:
    """Whether `holder` still holds the lease at `generation`: the fence, read inside the caller's write
    transaction right before it commits. On PostgreSQL the lease row stays locked (FOR UPDATE) until that commit, so
    a take-over waits for it, or has already happened and is seen; on SQLite the write transaction serialises.
    Expiry alone does not fence: until another holder takes the lease over, nobody else has run a job (and on SQLite
    a long job keeps its own heartbeat waiting, so the lease may expire under a job that is still legitimate)."""
    return db.session.execute(
        select(SchedulerLease.name).where(SchedulerLease.name == LEASE, SchedulerLease.holder == holder,
                                          SchedulerLease.generation == generation).with_for_update()).first() is not None


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
