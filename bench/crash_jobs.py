"""Crash safety of the scheduler: SIGKILL `flask jobs serve` in the middle of a large collect_bad_ratings run,
several times, then let a restarted scheduler finish; every 差评 must end up with exactly one item and one
'create' event, and a killed run must leave no partial work behind.

Usage (bench/crash_jobs sets up the environment): crash_jobs.py DATABASE_URL RATINGS KILLS
"""
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from common import BIN, ROOT, stop
from sqlalchemy import create_engine, text

SHANGHAI = ZoneInfo("Asia/Shanghai")
JOB = "collect_bad_ratings"


def prepare(url: str, ratings: int) -> None:
    """Schema, calendar, demo catalog, then RATINGS 差评 over the last 60 days written straight into the table."""
    from flask_migrate import upgrade

    from factory import create_app
    from models import Rating, db
    from service import calendar_admin, catalog

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        calendar_admin.import_package()
        catalog.load_demo()
        halls = ["HZ-XC", "HZ-XC-HB", "HZ-XC-JN"]
        end = datetime.now(UTC)
        rng = random.Random(6)
        rows = []
        for i in range(ratings):
            at = end - timedelta(seconds=rng.random() * 60 * 86400)
            rows.append({"hall_code": halls[i % 3], "score": 1 + i % 2, "channel": "device",
                         "comment": f"crash-job-{i}", "anonymous": True, "is_default": False, "effective": True,
                         "created_at": at, "rated_on": at.astimezone(SHANGHAI).date()})
            if len(rows) == 20000:
                db.session.execute(Rating.__table__.insert(), rows)
                rows = []
        if rows:
            db.session.execute(Rating.__table__.insert(), rows)
        db.session.commit()
        db.engine.dispose()


def start_scheduler(env: dict) -> subprocess.Popen:
    cmd = [str(BIN / "flask"), "jobs", "serve", "--interval", "1", "--lease-seconds", "3", "--heartbeat-seconds", "1"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def kill_mid_run(engine, env: dict, delay: float) -> dict:
    """Start a scheduler, wait until it has begun the job (its run row is committed first), let it work for
    `delay` seconds, SIGKILL it; report whether the run was really cut off with nothing of its work kept."""
    before = scalar(engine, "SELECT count(*) FROM job_runs WHERE job = :job", job=JOB)
    proc = start_scheduler(env)
    deadline = time.monotonic() + 60
    while scalar(engine, "SELECT count(*) FROM job_runs WHERE job = :job", job=JOB) == before:
        if time.monotonic() > deadline or proc.poll() is not None:
            stop(proc, signal.SIGKILL)
            raise SystemExit("the scheduler never started the job")
        time.sleep(0.01)
    time.sleep(delay)
    stop(proc, signal.SIGKILL)
    status = scalar(engine, "SELECT status FROM job_runs WHERE job = :job ORDER BY id DESC LIMIT 1", job=JOB)
    items = scalar(engine, "SELECT count(*) FROM rectification_items")
    return {"status": status, "items": items}


def figures(engine) -> dict:
    with engine.connect() as conn:
        expected = conn.execute(text(
            "SELECT count(*) FROM ratings WHERE score <= 2 AND effective AND NOT is_default")).scalar()
        stored = conn.execute(text("SELECT count(*) FROM rectification_items WHERE source = 'rating'")).scalar()
        duplicate_items = conn.execute(text(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM rectification_items "
            "WHERE source = 'rating' GROUP BY source_id) AS per_rating")).scalar()
        lost = conn.execute(text(
            "SELECT count(*) FROM ratings r WHERE r.score <= 2 AND r.effective AND NOT r.is_default AND NOT EXISTS "
            "(SELECT 1 FROM rectification_items i WHERE i.source = 'rating' AND i.source_id = CAST(r.id AS VARCHAR))"
        )).scalar()
        create_events = conn.execute(text(
            "SELECT count(*) FROM item_events WHERE action = 'create'")).scalar()
        duplicate_events = conn.execute(text(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM item_events WHERE action = 'create' "
            "GROUP BY item_id) AS per_item")).scalar()
        items_without_event = conn.execute(text(
            "SELECT count(*) FROM rectification_items i WHERE NOT EXISTS "
            "(SELECT 1 FROM item_events e WHERE e.item_id = i.id AND e.action = 'create')")).scalar()
        runs = dict(conn.execute(text(
            "SELECT status, count(*) FROM job_runs WHERE job = :job GROUP BY status"), {"job": JOB}).all())
    return {"expected": expected, "stored": stored, "duplicate_items": duplicate_items, "lost": lost,
            "create_events": create_events, "duplicate_events": duplicate_events,
            "items_without_event": items_without_event, "runs": runs}


def main() -> None:
    url, ratings, kills = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    started = time.perf_counter()
    prepare(url, ratings)
    print(f"seeded {ratings:,} 差评 in {time.perf_counter() - started:.1f} s")
    env = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    engine = create_engine(url)
    cut_off = 0
    for k in range(kills):
        # Spread over the run: early in the INSERT … SELECT, later in the events, just before the commit.
        delay = 0.3 + k * 1.5
        seen = kill_mid_run(engine, env, delay)
        cut = seen["status"] == "running" and seen["items"] == 0
        cut_off += cut
        print(f"kill {k + 1}: SIGKILL {delay:.1f} s into the run; run row left as '{seen['status']}', "
              f"items stored by the killed run: {seen['items']}" + ("" if cut else "  (the run had finished)"))

    # A fresh scheduler: it waits for the dead one's lease to expire, then the next run does the whole job.
    proc = start_scheduler(env)
    t0 = time.perf_counter()
    deadline = time.monotonic() + 600
    while not scalar(engine, "SELECT count(*) FROM job_runs WHERE job = :job AND status = 'ok'", job=JOB):
        if time.monotonic() > deadline or proc.poll() is not None:
            break
        time.sleep(0.2)
    time.sleep(2.5)  # a few more ticks: later runs must find nothing left to do
    stop(proc, timeout=60)
    print(f"restarted scheduler finished the job {time.perf_counter() - t0:.1f} s after it started")

    f = figures(engine)
    engine.dispose()
    print(f"\nruns of {JOB} by status: {f['runs']}   (kills that cut a run off mid-way: {cut_off} of {kills})")
    print(f"expected items (effective 差评): {f['expected']:,}")
    print(f"stored items: {f['stored']:,}")
    print(f"duplicates (items per rating > 1): {f['duplicate_items']} (must be 0)")
    print(f"lost (差评 without an item): {f['lost']} (must be 0)")
    print(f"'create' events: {f['create_events']:,}; duplicated per item: {f['duplicate_events']} (must be 0); "
          f"items without one: {f['items_without_event']} (must be 0)")
    ok = (f["duplicate_items"] == f["lost"] == f["duplicate_events"] == f["items_without_event"] == 0
          and f["stored"] == f["expected"] == f["create_events"] and cut_off > 0)
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
