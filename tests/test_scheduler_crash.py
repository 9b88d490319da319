"""Crash safety of the scheduler: `flask jobs serve` killed with SIGKILL mid-way through a large run leaves no
partial work, and the scheduler that takes over does the whole job once (the CI-sized bench/crash_jobs)."""
import os
import signal
import subprocess
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models import ItemEvent, JobRun, Rating, RectificationItem, db
from service import calendar_admin
from service.timeutil import local_date, now
from tests.rect_helpers import count, fresh
from tests.scheduler_helpers import start_scheduler

# Long enough a run to be cut off in the middle on a quiet, fast machine: the collecting job takes about 2 µs a
# 差评 there (30,000 were done before a kill 0.3 s in), so 100,000 give it a few hundred milliseconds, and the kill
# comes 0.05 s after the run's row appears.
RATINGS = 100_000
JOB = "collect_bad_ratings"


def scheduler(database_url) -> subprocess.Popen:
    return start_scheduler(database_url, interval=1, lease_seconds=3)


def wait_for(condition, timeout: float, proc: subprocess.Popen):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline or proc.poll() is not None:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the scheduler did not get there in time")
        time.sleep(0.01)


def runs(status=None) -> int:
    return count(JobRun, JobRun.job == JOB, *([JobRun.status == status] if status else []))


@pytest.mark.slow
def test_a_scheduler_killed_mid_run_leaves_nothing_half_done(app, demo, migrated):
    calendar_admin.import_package()
    at = now() - timedelta(days=1)
    db.session.execute(Rating.__table__.insert(), [
        {"hall_code": ("HZ-XC", "HZ-XC-HB", "HZ-XC-JN")[i % 3], "score": 1 + i % 2, "channel": "device",
         "anonymous": True, "is_default": False, "effective": True, "created_at": at, "rated_on": local_date(at)}
        for i in range(RATINGS)])
    db.session.commit()
    db.session.remove()

    first = scheduler(migrated)
    try:
        wait_for(lambda: runs() == 1, 60, first)  # the run row commits before the work starts
        time.sleep(0.05)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert runs("running") == 1, "the run finished before the kill: raise RATINGS"
    assert count(RectificationItem) == 0 and count(ItemEvent) == 0  # the killed run's work was rolled back

    second = scheduler(migrated)
    try:
        wait_for(lambda: runs("ok") >= 2, 120, second)  # the take-over waits out the dead one's lease
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)
    fresh()
    assert count(RectificationItem) == RATINGS
    per_rating = db.session.execute(select(func.count()).select_from(RectificationItem)
                                    .group_by(RectificationItem.source_id).having(func.count() > 1)).all()
    assert per_rating == []
    assert count(ItemEvent, ItemEvent.action == "create") == RATINGS
    assert db.session.execute(select(func.count(func.distinct(ItemEvent.item_id)))).scalar_one() == RATINGS
    # The killed run is on record as interrupted, not as running for ever.
    statuses = [s for (s,) in db.session.execute(select(JobRun.status).where(JobRun.job == JOB).order_by(JobRun.id))]
    assert statuses[0] == "interrupted" and set(statuses[1:]) == {"ok"}, statuses
