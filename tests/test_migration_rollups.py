"""Migration 0013 (monthly and items' rollups; the per-hall rows move into the daily unit rollup): a database rolled
up by the old code comes out with every rollup emptied and its watermarks forgotten, so figures are read live until
the next refresh rolls everything again; and it goes down and up again."""

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from tests.conftest import make_app

T = "'2025-06-09 02:00:00'"  # a UTC timestamp literal both databases take

OLD_ROWS = [
    f"INSERT INTO halls (code, name, level, default_rating_enabled, created_at, updated_at) "
    f"VALUES ('HZ-XC', '西城大厅', 'district', true, {T}, {T})",
    f"INSERT INTO ratings (id, hall_code, window_code, score, channel, anonymous, is_default, effective, created_at, "
    f"rated_on) VALUES (1, 'HZ-XC', '01', 1, 'web', true, false, true, {T}, '2025-06-09')",
    # What the old refresh left: the day's per-hall and per-window rows and both watermarks.
    "INSERT INTO daily_hall_stats (day, hall_code, ratings, bad, good, cases_due, cases_active) "
    "VALUES ('2025-06-09', 'HZ-XC', 1, 1, 0, 0, 0)",
    "INSERT INTO daily_unit_stats (day, dimension, hall_code, unit, ratings, bad, good, cases_due, cases_active) "
    "VALUES ('2025-06-09', 'window', 'HZ-XC', '01', 1, 1, 0, 0, 0)",
    "INSERT INTO rollup_state (name, through) VALUES ('ratings', '2025-06-30'), ('cases', '2025-06-20')",
]


def test_the_rollups_migration_empties_the_rollups_and_goes_down_again(empty_database):
    app = make_app(empty_database)
    with app.app_context():
        from models import db
        from service import rollup

        upgrade(revision="0012")
        with db.engine.begin() as conn:
            for statement in OLD_ROWS:
                conn.execute(text(statement))
        upgrade()
        with db.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            left = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                    for t in ("daily_unit_stats", "monthly_unit_stats", "item_stats", "rollup_state", "ratings")}
        assert "daily_hall_stats" not in tables
        assert left == {"daily_unit_stats": 0, "monthly_unit_stats": 0, "item_stats": 0, "rollup_state": 0,
                        "ratings": 1}
        assert rollup.watermarks() == {rollup.RATINGS: None, rollup.CASES: None}  # read live until the refresh
        rollup.refresh()
        with db.engine.connect() as conn:
            days = conn.execute(text("SELECT dimension, unit, ratings, bad FROM daily_unit_stats WHERE "
                                     "day = '2025-06-09' ORDER BY dimension")).all()
            june = conn.execute(text("SELECT dimension, ratings FROM monthly_unit_stats WHERE month = '2025-06-01' "
                                     "ORDER BY dimension")).all()
        assert [tuple(r) for r in days] == [("hall", None, 1, 1), ("item", None, 1, 1), ("staff", None, 1, 1),
                                            ("window", "01", 1, 1)]
        assert [tuple(r) for r in june] == [("hall", 1), ("item", 1), ("staff", 1), ("window", 1)]
        db.session.remove()
        downgrade(revision="0012")
        with db.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            state = conn.execute(text("SELECT count(*) FROM rollup_state")).scalar_one()
        assert "daily_hall_stats" in tables and "item_stats" not in tables and "monthly_unit_stats" not in tables
        assert state == 0  # the old refresh rolls every day again
        upgrade()
        db.engine.dispose()
