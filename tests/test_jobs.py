"""Scheduled jobs: each idempotent (run twice → same rows), set-based, recorded; one scheduler per deployment."""
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from models import Case, Hall, ItemEvent, JobRun, Rating, RectificationItem, RectificationList, db
from service import calendar_admin, rectification
from service.timeutil import local_date, now
from tests.conftest import ON_POSTGRES
from tests.rect_helpers import count, fresh, item_of_rating, make_rating, make_walkthrough, run, table_counts

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def calendar(demo):
    calendar_admin.import_package()


def expired_case(hall="HZ-XC", no="BJ-EXP-1", days_ago=8) -> Case:
    done = now() - timedelta(days=days_ago)
    case = Case(case_no=no, hall_code=hall, item_code="SB-001", window_code="04", completed_at=done,
                rate_before=done + timedelta(days=7), token_hash=f"h-{no}".ljust(64, "0"))
    db.session.add(case)
    db.session.commit()
    return case


def test_collect_bad_ratings_is_idempotent_and_only_takes_effective_bad_ones(calendar):
    bad = [make_rating(score=s, hall=h) for s, h in ((1, "HZ-XC"), (2, "HZ-XC"), (1, "HZ-XC-HB"))]
    make_rating(score=3)
    make_rating(score=5)
    db.session.execute(update(Rating).where(Rating.id == make_rating(score=1)["id"]).values(effective=False))
    db.session.commit()
    first = run("collect_bad_ratings")
    assert first.counts == {"items_created": 3, "lists_created": 2}
    after = table_counts()
    second = run("collect_bad_ratings")
    assert second.counts == {"items_created": 0, "lists_created": 0}
    assert table_counts() == after
    assert count(ItemEvent, ItemEvent.action == "create") == 3
    # A 差评 arriving later lands on the same week's list.
    late = make_rating(score=2, hall="HZ-XC")
    assert run("collect_bad_ratings").counts == {"items_created": 1, "lists_created": 0}
    assert {i.source_id for i in db.session.execute(select(RectificationItem)).scalars()} == {
        str(r["id"]) for r in bad + [late]}


@pytest.mark.skipif(not ON_POSTGRES, reason="on SQLite one writer at a time: a rating's id order is its commit "
                    "order (run this file with TEST_DATABASE_URL=postgresql+psycopg://…)")
def test_a_bad_rating_committed_after_later_ids_is_still_collected(calendar):
    """On PostgreSQL a rating's id comes from a sequence when the row is written, so a rating whose transaction was
    held up commits after others with higher ids, and after a run that took those. It must still become an item,
    however many ids came in between."""
    make_rating()
    run("collect_bad_ratings")
    at = now()
    with db.engine.connect() as held:
        held.begin()
        late = held.execute(Rating.__table__.insert().returning(Rating.id), [{
            "hall_code": "HZ-XC", "item_code": "SB-001", "score": 1, "channel": "miniprogram",
            "comment": "一个被耽搁的差评", "anonymous": True, "is_default": False, "effective": True,
            "created_at": at, "rated_on": local_date(at)}]).scalar_one()
        # More ids than any look-back below a watermark would cover, all committed before the late one.
        db.session.execute(Rating.__table__.insert(), [
            {"hall_code": "HZ-XC", "score": 5, "channel": "device", "anonymous": True, "is_default": False,
             "effective": True, "created_at": at, "rated_on": local_date(at)} for _ in range(3000)])
        ahead = make_rating(score=2)
        assert run("collect_bad_ratings").counts["items_created"] == 1  # the run while the late one is open
        held.commit()
    assert run("collect_bad_ratings").counts["items_created"] == 1
    assert item_of_rating(late).problem == "一个被耽搁的差评"
    assert count(RectificationItem, RectificationItem.source_id == str(ahead["id"])) == 1
    assert run("collect_bad_ratings").counts["items_created"] == 0


def test_build_walkthrough_lists(calendar):
    two = make_walkthrough(findings=((True, "叫号系统故障"), (True, "材料清单与窗口要求不一致"), (False, "指引清楚")))
    none = make_walkthrough(findings=((False, "一切顺利"),))
    draft = make_walkthrough(status="draft")
    assert rectification.list_code_for_walkthrough(two.id) is None
    assert run("build_walkthrough_lists").counts == {"lists_created": 2, "items_created": 2}
    after = table_counts()
    assert run("build_walkthrough_lists").counts == {"lists_created": 0, "items_created": 0}
    assert table_counts() == after
    code = rectification.list_code_for_walkthrough(two.id)
    day = f"{local_date(two.submitted_at):%Y%m%d}"
    # Short codes people can read out, numbered per hall and day; the walkthrough's id stays on the list.
    assert {code, rectification.list_code_for_walkthrough(none.id)} == {f"WT-HZXC-{day}-01", f"WT-HZXC-{day}-02"}
    assert rectification.list_code_for_walkthrough(draft.id) is None
    items = db.session.execute(select(RectificationItem).order_by(RectificationItem.id)).scalars().all()
    assert [(i.source, i.problem, i.category, i.status) for i in items] == [
        ("walkthrough", "叫号系统故障", "efficiency", "pending"),
        ("walkthrough", "材料清单与窗口要求不一致", "efficiency", "pending")]
    # A walkthrough with nothing to rectify still has its (empty) list, closed by the closing job.
    run("close_finished_lists")
    lists = {row.walkthrough_id: row.status for row in db.session.execute(select(RectificationList)).scalars()}
    assert lists == {two.id: "open", none.id: "closed"}


def test_flag_overdue_once_per_deadline(calendar):
    make_rating(at=now() - timedelta(days=10))
    make_rating()
    run("collect_bad_ratings")
    assert run("flag_overdue").counts == {"items_flagged": 1}
    after = table_counts()
    assert run("flag_overdue").counts == {"items_flagged": 0}
    assert table_counts() == after
    assert count(ItemEvent, ItemEvent.action == "overdue") == 1


def test_default_ratings_follow_the_hall_policy(calendar):
    expired_case("HZ-XC", "BJ-1")
    expired_case("HZ-XC-HB", "BJ-2")
    rated = expired_case("HZ-XC", "BJ-3")
    make_rating(score=5, case_id=rated.id)
    expired_case("HZ-XC", "BJ-4", days_ago=2)  # still inside its window
    db.session.execute(update(Hall).where(Hall.code == "HZ-XC-HB").values(default_rating_enabled=False))
    db.session.commit()
    assert run("default_ratings").counts == {"default_ratings": 1}
    after = table_counts()
    assert run("default_ratings").counts == {"default_ratings": 0}
    assert table_counts() == after
    given = db.session.execute(select(Rating).where(Rating.is_default.is_(True))).scalars().one()
    assert (given.score, given.hall_code, given.window_code) == (3, "HZ-XC", "04")
    # A case registered late, its window already closed, is still found past the watermark.
    expired_case("HZ-XC", "BJ-5", days_ago=30)
    assert run("default_ratings").counts == {"default_ratings": 1}


def test_a_failed_run_is_recorded_and_changes_nothing(app, calendar):
    from service import jobruns

    def broken(**_):
        db.session.execute(update(Hall).values(name="坏了"))
        raise RuntimeError("boom")

    result = jobruns.execute("broken", broken)
    assert result.status == "failed" and "boom" in result.error and result.finished_at
    assert count(Hall, Hall.name == "坏了") == 0


def test_a_real_apscheduler_runs_every_job(app, calendar):
    from jobs import JOBS
    from jobs.scheduler import Scheduler

    make_rating()
    make_walkthrough()
    scheduler = Scheduler(app, interval=1, lease_seconds=10, heartbeat_seconds=1)
    scheduler.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and count(JobRun, JobRun.status == "ok") < 2 * len(JOBS):
            time.sleep(0.2)
    finally:
        scheduler.stop()
    fresh()
    ran = {r.job for r in db.session.execute(select(JobRun).where(JobRun.status == "ok")).scalars()}
    assert ran == set(JOBS)
    assert count(RectificationItem) == 2 and count(ItemEvent, ItemEvent.action == "create") == 2


@pytest.mark.slow
def test_two_schedulers_at_once_do_the_work_once(app, migrated, calendar):
    bad = [make_rating(hall=h) for h in ("HZ-XC", "HZ-XC-HB", "HZ-XC-JN") * 5]
    walks = [make_walkthrough(), make_walkthrough(hall="HZ-XC-HB")]
    expired_case("HZ-XC", "BJ-2P-1")
    expired_case("HZ-XC", "BJ-2P-2")
    db.session.remove()
    env = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": migrated, "LOG_LEVEL": "WARNING"}
    cmd = [sys.executable, "-m", "flask", "jobs", "serve", "--interval", "1", "--lease-seconds", "30",
           "--heartbeat-seconds", "1", "--exit-after", "5"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(2)]
    outputs = [p.communicate(timeout=60)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs

    fresh()
    runs = db.session.execute(select(JobRun)).scalars().all()
    assert {r.status for r in runs} == {"ok"}, [r.error for r in runs]
    # The second scheduler stayed idle while the first held the lease; it may only take over once the first
    # released it on exit, so the holders' spans of runs never overlap.
    spans = sorted((min(r.started_at for r in runs if r.holder == h), max(r.finished_at for r in runs if r.holder == h))
                   for h in {r.holder for r in runs})
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:], strict=False)), spans
    from jobs import JOBS

    assert {r.job for r in runs} == set(JOBS)
    items = count(RectificationItem)
    assert items == len(bad) + len(walks)
    assert count(ItemEvent, ItemEvent.action == "create") == items
    assert count(RectificationList, RectificationList.source == "walkthrough") == 2
    assert count(RectificationList, RectificationList.source == "rating") == 3
    assert count(Rating, Rating.is_default.is_(True)) == 2


def test_jobs_cli_runs_one_job_once(app, calendar):
    make_rating()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "run", "collect_bad_ratings"])
    assert result.exit_code == 0 and "'items_created': 1" in result.output, result.output
    assert runner.invoke(args=["jobs", "run", "no_such_job"]).exit_code != 0
    listed = {line.split("（")[0] for line in runner.invoke(args=["jobs", "list"]).output.splitlines()}
    assert listed == {"collect_bad_ratings", "build_walkthrough_lists", "close_finished_lists", "flag_overdue",
                      "default_ratings", "refresh_stats", "export_opendata", "purge_expired", "flag_due_soon",
                      "deliver_events"}
    assert count(JobRun, JobRun.holder == "cli") == 1
