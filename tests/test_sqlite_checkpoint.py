"""SQLite's WAL is copied back into the database by each process's checkpoint thread (SQLITE_CHECKPOINT_MS), not by
whichever commit crosses 1000 pages, and it restarts: it does not grow without end under steady writes."""
import sqlite3
import time

import pytest
from sqlalchemy import text

from models import db
from tests.conftest import ON_POSTGRES
from tests.helpers import API

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="a SQLite WAL matter; PostgreSQL checkpoints by itself")


def _ratings_in_main_file(path: str) -> int | None:
    """Ratings in the database file alone (immutable=1 reads neither the WAL nor any lock)."""
    try:
        with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM ratings").fetchone()[0]
    except sqlite3.DatabaseError:  # caught while the thread was writing pages: look again
        return None


def test_the_checkpoint_thread_copies_the_wal_back_and_it_restarts(app, client, demo):
    assert app.config["SQLITE_CHECKPOINT_MS"] > 0
    assert db.session.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0  # commits never checkpoint
    db.session.rollback()
    path = db.engine.url.database
    body = {"hall": "HZ-XC", "item": "SB-001", "score": 4, "channel": "qrcode", "tags": ["GUIDANCE"]}
    for _ in range(150):
        assert client.post(f"{API}/ratings", json=body, headers={"X-Client-Id": "checkpoint"}).status_code == 201
    deadline = time.monotonic() + 10
    while _ratings_in_main_file(path) != 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _ratings_in_main_file(path) == 150, "the WAL was not copied back into the database file"

    # Fully copied back, the WAL starts afresh at the next commit: it now holds one rating's pages, not 151.
    assert client.post(f"{API}/ratings", json=body, headers={"X-Client-Id": "checkpoint"}).status_code == 201
    with sqlite3.connect(path) as conn:
        _busy, frames, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert 0 < frames < 100, frames
