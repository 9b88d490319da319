"""bench/jobs seeding and job timing: 1,000,000 ratings (5% 差评) across 20 halls and a year, written straight into
SQLite with executemany, then `collect_bad_ratings` timed on them (first run, then a run with nothing new).

Run by bench/jobs with DATABASE_URL pointing at a fresh SQLite file; prints one JSON line of figures and writes a
staff token for hall BH-01 to the path given as argv[1].
"""
import json
import random
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_migrate import upgrade

from factory import create_app
from jobs import JOBS
from models import db
from service import calendar_admin
from service.accounts import create_account

RATINGS = int(__import__("os").environ.get("RATINGS", 1_000_000))
HALLS = [f"BH-{i:02d}" for i in range(1, 21)]
BAD_SHARE = 0.05
SHANGHAI = ZoneInfo("Asia/Shanghai")


def seed(path: str) -> float:
    rng = random.Random(20261125)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.execute("INSERT INTO halls (code, name, level, parent_code, address, default_rating_enabled, created_at, "
                 "updated_at) VALUES ('BH', '压测市', 'city', NULL, NULL, 1, '2026-01-01 00:00:00', "
                 "'2026-01-01 00:00:00')")
    conn.executemany(
        "INSERT INTO halls (code, name, level, parent_code, address, default_rating_enabled, created_at, updated_at) "
        "VALUES (?, ?, 'district', 'BH', NULL, 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        [(h, f"压测大厅{h}") for h in HALLS])
    end = datetime.now(UTC)
    start = end - timedelta(days=365)
    span = (end - start).total_seconds()
    offsets = sorted(rng.random() * span for _ in range(RATINGS))  # ids grow with time, as in production

    def rows():
        for off in offsets:
            at = start + timedelta(seconds=off)
            bad = rng.random() < BAD_SHARE
            score = rng.choice((1, 2)) if bad else rng.choice((3, 4, 5, 5, 5))
            yield (rng.choice(HALLS), score, "miniprogram", "排队时间太长" if bad and rng.random() < 0.5 else None,
                   at.replace(tzinfo=None).isoformat(sep=" "), at.astimezone(SHANGHAI).date().isoformat())

    conn.executemany(
        "INSERT INTO ratings (hall_code, score, channel, comment, anonymous, is_default, effective, created_at, "
        "rated_on) VALUES (?, ?, ?, ?, 1, 0, 1, ?, ?)", rows())
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - started


def timed(name: str) -> tuple[float, dict]:
    started = time.perf_counter()
    run = JOBS[name](holder="bench")
    elapsed = time.perf_counter() - started
    assert run.status == "ok", run.error
    return elapsed, run.counts


def main() -> None:
    token_path = sys.argv[1]
    app = create_app()
    with app.app_context():
        upgrade()
        db_path = db.engine.url.database
        with_calendar = calendar_admin.import_package()
        db.session.remove()
        seed_seconds = seed(db_path)
        bad = sqlite3.connect(db_path).execute("SELECT count(*) FROM ratings WHERE score <= 2").fetchone()[0]
        first, first_counts = timed("collect_bad_ratings")
        second, second_counts = timed("collect_bad_ratings")
        again, _ = timed("collect_bad_ratings")
        _, token = create_account(role="staff", hall_code="BH-01", name="压测窗口")
        with open(token_path, "w") as fh:
            fh.write(token)
    print(json.dumps({"ratings": RATINGS, "bad": bad, "halls": len(HALLS), "calendar_days": with_calendar["days"],
                      "seed_s": round(seed_seconds, 2), "collect_first_s": round(first, 3),
                      "collect_first_counts": first_counts, "collect_nothing_new_s": round(second, 4),
                      "collect_nothing_new_again_s": round(again, 4), "collect_nothing_new_counts": second_counts},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
