"""A pooled PostgreSQL connection that the server closed is replaced at checkout: the next request is served, not
answered 500 (service.database._drop_closed_connection, which replaced pool_pre_ping's query per checkout)."""
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from models import db
from tests.conftest import ON_POSTGRES
from tests.helpers import API

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="a server closing connections: PostgreSQL only")

RATING = {"hall": "HZ-XC", "item": "SB-001", "window": "04", "score": 5, "channel": "qrcode"}


def _terminate_the_pool(app) -> int:
    """Closes, from the server's side, every connection of the test database but the admin's own, and waits until
    those server processes are gone (pg_terminate_backend only signals them: each then says so on its socket and
    exits a moment later)."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :db "
                                     "AND pid <> pg_backend_pid()"), {"db": url.database}).scalars().all()
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            deadline = time.monotonic() + 10
            while conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                               {"pids": list(pids)}).scalar():
                assert time.monotonic() < deadline, "the terminated server processes did not exit"
                time.sleep(0.02)
            return len(pids)
    finally:
        admin.dispose()


def test_requests_after_the_server_closed_the_pooled_connections_are_served(client, tokens):
    assert client.post(f"{API}/ratings", json=RATING, headers={"X-Client-Id": "a"}).status_code == 201
    assert client.get(f"{API}/rectifications", headers=tokens["staff"]).status_code == 200
    db.session.remove()
    checked_in = db.engine.pool.checkedin()
    assert checked_in >= 1
    assert _terminate_the_pool(client.application) >= checked_in

    # Both kinds of checkout: the intake's plain statements and the Session of an authenticated read.
    stored = client.post(f"{API}/ratings", json=RATING, headers={"X-Client-Id": "b"})
    assert stored.status_code == 201, stored.get_json()
    listed = client.get(f"{API}/ratings", headers=tokens["admin"])
    assert listed.status_code == 200 and len(listed.get_json()["items"]) == 2
