"""Migration 0015 (the collecting of 差评 follows commit order on PostgreSQL): ratings written before it, collected
or not by the old job, come out with each 差评 that had no item given one by the first run after it, and none
twice; and it goes down and up again."""
from flask_migrate import downgrade, upgrade
from sqlalchemy import text, update

from tests.conftest import make_app

T = "'2026-11-30 02:00:00'"  # a UTC timestamp literal both databases take


def rating(i: int, score: int) -> str:
    return ("INSERT INTO ratings (id, hall_code, item_code, score, channel, comment, anonymous, is_default, "
            f"effective, created_at, rated_on) VALUES ({i}, 'HZ-XC', 'SB-001', {score}, 'miniprogram', '差评{i}', "
            f"true, false, true, {T}, '2026-11-30')")


def test_the_bad_ratings_the_old_job_had_not_collected_are_collected_once_after_the_migration(empty_database):
    app = make_app(empty_database)
    with app.app_context():
        from jobs import JOBS
        from models import JobRun, db
        from service import calendar_admin, catalog

        upgrade()
        catalog.load_demo()
        calendar_admin.import_package()
        with db.engine.begin() as conn:
            for i, score in enumerate((1, 5, 2, 1, 4, 2), start=1):
                conn.execute(text(rating(i, score)))
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT setval('ratings_id_seq', 6)"))
        assert JOBS["collect_bad_ratings"](holder="test").counts["items_created"] == 4
        db.session.remove()
        # Back to before: the old job had collected ratings 1 to 3 (the 差评 1 and 3) and kept that watermark.
        downgrade(revision="0014")
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM item_events WHERE item_id IN (SELECT id FROM rectification_items "
                              "WHERE source_id IN ('4', '6'))"))
            conn.execute(text("DELETE FROM rectification_items WHERE source_id IN ('4', '6')"))
            conn.execute(update(JobRun).where(JobRun.job == "collect_bad_ratings").values(watermark={"rating_id": 3}))
        db.session.remove()
        upgrade()
        assert JOBS["collect_bad_ratings"](holder="test").counts["items_created"] == 2
        assert JOBS["collect_bad_ratings"](holder="test").counts["items_created"] == 0
        with db.engine.connect() as conn:
            items = conn.execute(text("SELECT source_id FROM rectification_items ORDER BY source_id")).scalars()
            assert list(items) == ["1", "3", "4", "6"]
        db.session.remove()
        downgrade(revision="0014")
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM rectification_items")).scalar_one() == 4
