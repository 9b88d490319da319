"""Migration 0012 (the rectification clocks) carries existing rows over: upgrade a database of its own to 0011, write rows there with SQL as
the old code did, upgrade to head, and read the new columns."""

from flask_migrate import upgrade
from sqlalchemy import text

from tests.conftest import make_app

T = "'2025-06-09 02:00:00'"  # a UTC timestamp literal both databases take


OLD_ROWS = [
    f"INSERT INTO halls (code, name, level, default_rating_enabled, created_at, updated_at) "
    f"VALUES ('HZ-XC', '西城大厅', 'district', true, {T}, {T})",
    f"INSERT INTO rectification_lists (id, code, source, hall_code, period, status, created_at) "
    f"VALUES (1, 'RT-HZ-XC-2025-W24', 'rating', 'HZ-XC', '2025-W24', 'open', {T})",
    # pending: verify_due from source_on (Mon 9 → Tue 10)
    f"INSERT INTO rectification_items (id, list_id, source, source_id, source_on, hall_code, problem, status, "
    f"due_start, due_days, due_date, due_provisional, version, created_at, updated_at) VALUES (1, 1, 'rating', '11', "
    f"'2025-06-09', 'HZ-XC', '排队久', 'pending', '2025-06-09', 1, '2025-06-10', false, 1, {T}, {T})",
    # closed, submitted Mon 16 by the deadline Tue 17, accepted Fri 20: on time by its submission
    f"INSERT INTO rectification_items (id, list_id, source, source_id, source_on, hall_code, problem, status, "
    f"due_start, due_days, due_date, due_provisional, version, created_at, updated_at, closed_at) VALUES (2, 1, "
    f"'rating', '12', '2025-06-13', 'HZ-XC', '材料多', 'closed', '2025-06-10', 5, '2025-06-17', false, 4, {T}, {T}, "
    f"'2025-06-20 02:00:00')",
    # 2025 came from the package; of 2027 only one day was entered by hand, which no longer publishes it.
    f"INSERT INTO work_calendar_days (day, is_workday, name, source, updated_at) VALUES "
    f"('2025-10-01', false, '国庆节', 'chinesecalendar', {T}), ('2027-01-01', false, '元旦', 'admin', {T})",
    "INSERT INTO item_events (id, item_id, at, actor, action, from_status, to_status) VALUES "
    "(1, 2, '2025-06-16 02:00:00', '窗口甲', 'submit', 'rectifying', 'awaiting_acceptance')",
    # closed with no submit event on record: judged by its closing, Wed 18 after Tue 17
    f"INSERT INTO rectification_items (id, list_id, source, source_id, source_on, hall_code, problem, status, "
    f"due_start, due_days, due_date, due_provisional, version, created_at, updated_at, closed_at) VALUES (3, 1, "
    f"'rating', '13', '2025-06-09', 'HZ-XC', '态度差', 'closed', '2025-06-10', 5, '2025-06-17', false, 4, {T}, {T}, "
    f"'2025-06-18 02:00:00')",
]


def test_the_clocks_migration_carries_existing_items_over(empty_database):
    app = make_app(empty_database)
    with app.app_context():
        from models import db

        upgrade(revision="0011")
        with db.engine.begin() as conn:
            for statement in OLD_ROWS:
                conn.execute(text(statement))
            # The 差评 of item 1 was named (not anonymous, a phone left); item 2's was anonymous.
            for rating_id, anonymous in ((11, False), (12, True)):
                conn.execute(text("INSERT INTO ratings (id, hall_code, score, channel, anonymous, phone_enc, is_default, "
                                  f"effective, created_at, rated_on) VALUES (:id, 'HZ-XC', 1, 'web', :anon, :phone, "
                                  f"false, true, {T}, '2025-06-09')"),
                             {"id": rating_id, "anon": anonymous, "phone": b"encrypted"})
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, verify_due, on_time, submitted_at, verified_on_time, named "
                                     "FROM rectification_items ORDER BY id")).all()
            years = conn.execute(text("SELECT year, source FROM published_years ORDER BY year")).all()
            follow_ups = conn.execute(text("SELECT count(*) FROM rating_follow_ups")).scalar_one()
        db.engine.dispose()
    assert [tuple(y) for y in years] == [(2025, "chinesecalendar")] and follow_ups == 0
    got = {r[0]: (str(r[1]), r[2] if r[2] is None else bool(r[2]), r[3] is not None, r[4], bool(r[5])) for r in rows}
    assert got == {1: ("2025-06-10", None, False, None, True), 2: ("2025-06-16", True, True, None, False),
                   3: ("2025-06-10", False, False, None, False)}
