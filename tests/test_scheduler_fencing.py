"""Fencing of the scheduler lease: a scheduler paused past its lease (SIGSTOP, then SIGCONT) while another took the
lease over commits no work when it resumes, and stops running jobs; runs outside the lease (`flask jobs run`) are
not fenced."""
import os
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from jobs import JOBS, OWN_INTERVAL
from jobs.scheduler import Scheduler
from models import Case, Hall, JobRun, Rating, RectificationItem, SchedulerLease, db
from service import calendar_admin, jobruns, rectification_jobs, scheduling
from service.database import end_unit_of_work, writing
from service.timeutil import now
from tests import scheduler_helpers
from tests.conftest import ON_POSTGRES
from tests.rect_helpers import count, fresh, make_rating
from tests.scheduler_helpers import start_scheduler

# The last job of every tick (jobs on an interval of their own run beside the ticks): once it has run, the process
# is idle until the next tick.
LAST_JOB = [name for name in JOBS if name not in OWN_INTERVAL][-1]


@pytest.fixture
def app(app_factory):
    # The test's own writes give up quickly when a stopped process holds the database (see _stop_when_idle).
    app = app_factory(SQLITE_BUSY_TIMEOUT_MS=500)
    with app.app_context():
        yield app


def lease() -> SchedulerLease | None:
    fresh()
    return db.session.get(SchedulerLease, scheduling.LEASE)


def runs_of(holder: str) -> list[JobRun]:
    fresh()
    return list(db.session.execute(select(JobRun).where(JobRun.holder == holder).order_by(JobRun.id)).scalars())


# --- in one process: the fence itself ----------------------------------------------------------------------------

def test_acquire_raises_the_generation_only_on_a_take_over(app):
    first = scheduling.acquire("A", 0)  # expires at once
    assert first == 1
    assert scheduling.acquire("A", 0) == 1  # re-taking our own lease keeps the generation
    time.sleep(0.01)
    assert scheduling.acquire("B", 60) == 2
    assert scheduling.acquire("A", 60) is None  # held by B
    assert scheduling.renew("B", 60) and lease().generation == 2
    scheduling.release("B")
    time.sleep(0.01)
    assert scheduling.acquire("A", 60) == 3


@pytest.mark.parametrize("moment", ["before_the_work", "during_the_work"])
def test_work_done_after_a_take_over_is_rolled_back_and_the_run_fenced(app, demo, monkeypatch, moment):
    """The pause falls after the run started (its leader check and first fence check passed) and before its
    commit: the check right before the commit stops it."""
    if moment == "during_the_work" and not ON_POSTGRES:
        pytest.skip("on SQLite the work's write transaction keeps every other writer out: no take-over mid-work")
    calendar_admin.import_package()
    make_rating(hall="HZ-XC")
    generation = scheduling.acquire("A", 0)  # expires at once
    taken = []

    def take_over():
        # Meanwhile A is "paused": B takes the expired lease over, on its own connection, and commits.
        def b():
            with app.app_context():
                taken.append(scheduling.acquire("B", 60))
                end_unit_of_work()

        time.sleep(0.01)
        thread = threading.Thread(target=b)
        thread.start()
        thread.join()
        assert taken == [generation + 1]

    def work(now, watermark):
        if moment == "during_the_work":
            counts = rectification_jobs.collect_bad_ratings(now=now, watermark=watermark)
            take_over()
            return counts
        return rectification_jobs.collect_bad_ratings(now=now, watermark=watermark)

    if moment == "before_the_work":
        last_watermark = jobruns._last_watermark
        monkeypatch.setattr(jobruns, "_last_watermark", lambda job: take_over() or last_watermark(job))
    with jobruns.under_lease("A", generation):
        run = jobruns.execute("collect_bad_ratings", work, holder="A")
    assert taken == [generation + 1]
    assert run.status == "fenced" and run.generation == generation and run.finished_at
    assert "其他调度进程接管" in run.error
    assert count(JobRun, JobRun.status == "ok") == 0
    assert count(RectificationItem) == 0  # nothing of A's work committed
    # The current holder does the work once.
    monkeypatch.undo()
    with jobruns.under_lease("B", generation + 1):
        done = JOBS["collect_bad_ratings"](holder="B")
    assert done.status == "ok" and count(RectificationItem) == 1


def test_a_stale_scheduler_skips_the_run_and_stops_running_jobs(app, demo):
    """The pause falls before the run: the scheduler still believes it leads; the run does not start, is recorded
    as fenced, and the scheduler stands by."""
    scheduler = Scheduler(app, interval=60, lease_seconds=0, heartbeat_seconds=60)
    scheduler.tick()
    assert scheduler.leader and scheduler.generation == 1
    time.sleep(0.01)
    assert scheduling.acquire("other", 60) == 2
    make_rating(hall="HZ-XC")
    calls = []
    job = scheduler._job("collect_bad_ratings", lambda holder: calls.append(holder) or JOBS["collect_bad_ratings"](
        holder=holder))
    job()
    assert calls == [scheduler.holder] and not scheduler.leader
    [run] = runs_of(scheduler.holder)
    assert (run.status, run.generation) == ("fenced", 1)
    job()  # stands by: no further run
    assert calls == [scheduler.holder] and len(runs_of(scheduler.holder)) == 1
    scheduler.tick()  # the other holder's lease is valid: still standing by
    assert not scheduler.leader and lease().holder == "other"


def test_runs_outside_the_lease_are_not_fenced(app, demo):
    """`flask jobs run NAME` (holder "cli") runs beside the scheduler, whoever holds the lease."""
    calendar_admin.import_package()
    assert scheduling.acquire("a-scheduler", 60)
    make_rating(hall="HZ-XC")
    result = app.test_cli_runner().invoke(args=["jobs", "run", "collect_bad_ratings"])
    assert result.exit_code == 0, result.output
    [run] = runs_of("cli")
    assert run.status == "ok" and run.generation is None and run.counts["items_created"] == 1


# --- a real process, stopped and continued ------------------------------------------------------------------------

def scheduler(database_url) -> subprocess.Popen:
    # deliver_events runs on an interval of its own: kept out of the way, so the ticks are the only runs watched.
    return start_scheduler(database_url, interval=1, lease_seconds=2, env={"DELIVERY_INTERVAL_SECONDS": "3600"})


def wait_for(condition, timeout: float, what: str):
    scheduler_helpers.wait_for(condition, timeout, what, poll=0.02)


@contextmanager
def _holding_the_lease_row():
    """A write transaction that holds the lease row: on SQLite the database's write lock (and the writers' lock
    file), on PostgreSQL the row lock, each given up quickly if another process holds it.

    It starts from a closed session: a read transaction left open by an earlier query would be carried on instead,
    and on SQLite its SELECT takes no lock at all (the check would pass while another process holds the lock)."""
    end_unit_of_work()
    with writing():
        if ON_POSTGRES:
            db.session.execute(text("SET LOCAL lock_timeout = '500ms'"))
            db.session.execute(select(SchedulerLease).where(SchedulerLease.name == scheduling.LEASE)
                               .with_for_update())
        else:
            # BEGIN IMMEDIATE took the lock already; a write to the row makes sure of it.
            db.session.execute(update(SchedulerLease).where(SchedulerLease.name == scheduling.LEASE)
                               .values(holder=SchedulerLease.holder))
        yield
        db.session.commit()


def _stop_when_idle(proc, holder) -> None:
    """SIGSTOP the scheduler right after a tick's last job, and make sure it was not stopped inside a write
    transaction (its heartbeat or a checkpoint): that would lock everyone out until it continues."""
    def ticks() -> int:
        return len([r for r in runs_of(holder) if r.job == LAST_JOB and r.status == "ok"])

    for _ in range(20):
        done = ticks()
        wait_for(lambda: ticks() > done, 20, "a tick of the first scheduler")  # noqa: B023 - called at once
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            with _holding_the_lease_row():
                pass
            return
        except Exception:  # noqa: BLE001 - stopped holding a lock: let it go on and try the next tick
            end_unit_of_work()
            os.kill(proc.pid, signal.SIGCONT)
    pytest.fail("could not stop the scheduler outside a transaction")


def expired_case() -> None:
    db.session.execute(update(Hall).where(Hall.code == "HZ-XC").values(default_rating_enabled=True))
    stamp = now() - timedelta(days=10)
    db.session.add(Case(case_no="FENCE-1", hall_code="HZ-XC", item_code="SB-001", completed_at=stamp,
                        rate_before=stamp + timedelta(days=7), token_hash="f" * 64))
    db.session.commit()


@pytest.mark.slow
def test_a_scheduler_paused_past_its_lease_commits_nothing_after_the_take_over(app, demo, migrated):
    calendar_admin.import_package()
    db.session.remove()
    first = scheduler(migrated)
    try:
        wait_for(lambda: (lease() is not None and lease().holder not in (None, "test-B")
                          and any(r.status == "ok" for r in runs_of(lease().holder))), 30, "the first scheduler")
        holder_a, generation_a = lease().holder, lease().generation
        _stop_when_idle(first, holder_a)
        ran_before = len(runs_of(holder_a))

        # Its lease runs out while it is stopped; another scheduler (this test) takes it over.
        end_unit_of_work()  # (acquire begins its own write transaction, not an upgrade of runs_of's read)
        wait_for(lambda: scheduling.acquire("test-B", 60) is not None, 10, "the lease to expire")
        generation_b = lease().generation
        assert generation_b == generation_a + 1 and lease().holder == "test-B"
        # Work for its first job (default_ratings: a case whose rating window closed) and for collect_bad_ratings.
        expired_case()
        rating = make_rating(hall="HZ-XC")

        # Continue it while the lease row is held, so that both its threads reach the database and wait there:
        # the job thread (it still believes it leads) and the heartbeat thread (it will learn it lost the lease).
        # Whichever goes first, the job is past its leader check and meets the fence.
        with _holding_the_lease_row():
            os.kill(first.pid, signal.SIGCONT)
            time.sleep(1.0)

        wait_for(lambda: len(runs_of(holder_a)) > ran_before, 10, "the resumed scheduler's next run")
        time.sleep(2.0)  # two more of its intervals and heartbeats: it must not run another job
        after = runs_of(holder_a)[ran_before:]
        assert [(r.status, r.generation) for r in after] == [("fenced", generation_a)], \
            [(r.job, r.status, r.error) for r in after]
        assert after[0].job == list(JOBS)[0] and "接管" in after[0].error
        assert first.poll() is None  # it stands by, it did not die
    finally:
        os.killpg(first.pid, signal.SIGCONT)
        os.killpg(first.pid, signal.SIGTERM)
        first.wait(timeout=30)

    # No work from the stopped scheduler: the 差评 is still waiting; the lease holder does it, once.
    assert count(RectificationItem) == 0 and count(Rating, Rating.is_default.is_(True)) == 0
    assert lease().holder == "test-B" and lease().generation == generation_b
    with jobruns.under_lease("test-B", generation_b):
        assert JOBS["default_ratings"](holder="test-B").counts == {"default_ratings": 1}
        assert JOBS["collect_bad_ratings"](holder="test-B").status == "ok"
    items = db.session.execute(select(RectificationItem.source_id)).scalars().all()
    assert items == [str(rating["id"])] and count(Rating, Rating.is_default.is_(True)) == 1
