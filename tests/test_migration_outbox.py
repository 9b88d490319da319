"""Migration 0014 (the fan-out follows commit order on PostgreSQL): a queue fanned out by the old code, with events
past its cursor, comes out with every such event given its delivery once, none of the delivered ones again; and it
goes down and up again."""

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.conftest import make_app

T = "'2026-11-30 02:00:00'"  # a UTC timestamp literal both databases take


def old_rows() -> list[str]:
    rows = [
        "INSERT INTO subscriptions (id, name, url, events, format, secret_enc, active, fanned_event_id, "
        f"start_event_id, created_at, updated_at) VALUES (1, '部门系统', 'http://127.0.0.1:9/hook', "
        f"'[\"rating.created\"]', 'webhook', 'x', true, 5, 0, {T}, {T})"]
    rows += [f"INSERT INTO outbox_events (id, type, key, subject, hall_code, occurred_at, data) VALUES ({i}, "
             f"'rating.created', 'rating.created:{i}', 'rating:{i}', NULL, {T}, '{{}}')" for i in range(1, 11)]
    # The old fan-out had reached event 5: those have their deliveries, and were delivered.
    rows += [f"INSERT INTO deliveries (subscription_id, event_id, subject, status, attempts, next_attempt_at, "
             f"delivered_at, created_at) VALUES (1, {i}, 'rating:{i}', 'delivered', 1, {T}, {T}, {T})"
             for i in range(1, 6)]
    return rows


def test_the_events_past_the_old_cursor_are_fanned_out_once_after_the_migration(empty_database):
    app = make_app(empty_database)
    with app.app_context():
        from models import db
        from service import deliverer
        from service.timeutil import now

        upgrade(revision="0013")
        with db.engine.begin() as conn:
            for statement in old_rows():
                conn.execute(text(statement))
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT setval('outbox_events_id_seq', 10)"))
        upgrade()
        assert deliverer.fan_out(now()) == 5
        db.session.commit()
        assert deliverer.fan_out(now()) == 0
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT event_id, status FROM deliveries ORDER BY event_id")).all()
        assert [tuple(r) for r in rows] == [(i, "delivered") for i in range(1, 6)] + [(i, "pending") for i in range(6, 11)]
        db.session.remove()
        downgrade(revision="0013")
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one() == 10
