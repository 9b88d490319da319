"""SQLite's WAL is copied back into the database by each process's checkpoint thread (SQLITE_CHECKPOINT_MS), not by
whichever commit crosses 1000 pages, and it restarts: it does not grow without end under steady writes."""
import os
import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from models import db
from service import sqlite_tuning
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


class _Recorded:
    def __init__(self, row):
        self.row = row

    def fetchone(self):
        return self.row


class _RecordingConnection(sqlite_tuning.SQLiteConnection):
    """Notes, for each checkpoint pass, whether it ran inside the writers' lock and the frames copied by then."""

    def execute(self, sql, *args):
        cursor = super().execute(sql, *args)
        if "wal_checkpoint" not in sql:
            return cursor
        row = cursor.fetchone()
        self.passes.append((self.holds_write_lock, row[2]))
        return _Recorded(row)


def test_what_a_long_holder_of_the_writers_lock_wrote_is_copied_outside_the_lock(tmp_path):
    """A job's run holds the writers' lock for seconds and commits thousands of pages. The checkpoint thread, queued
    for the lock meanwhile, must not copy them while it holds the lock (every writer would wait for the copy): it
    lets the lock go, copies them in passes while writers go on, and queues again for the last few frames."""
    path = str(tmp_path / "ckpt.db")
    plain = sqlite3.connect(path, isolation_level=None)
    plain.execute("PRAGMA journal_mode = WAL")
    plain.execute("PRAGMA wal_autocheckpoint = 0")
    plain.execute("CREATE TABLE t (x BLOB)")
    plain.execute("INSERT INTO t VALUES (zeroblob(100))")
    checkpointer = _RecordingConnection(path, isolation_level=None, check_same_thread=False)
    checkpointer.passes = []
    checkpointer.open_write_lock(path)
    writer = sqlite_tuning.SQLiteConnection(path, isolation_level=None)
    writer.open_write_lock(path)
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # as the service's connections: its commit copies nothing

    # A reader's snapshot keeps the checkpoint's PASSIVE passes from copying what came after it, so the thread goes
    # on to its last pass and queues for the writers' lock, which the long writer holds.
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()
    plain.execute("INSERT INTO t VALUES (zeroblob(100))")
    writer.wait_for_write_lock()
    writer.execute("BEGIN IMMEDIATE")
    writer.executemany("INSERT INTO t VALUES (zeroblob(4000))", [()] * 2000)  # ~2,000 pages
    thread = threading.Thread(target=sqlite_tuning._checkpoint, args=(checkpointer,))
    thread.start()
    time.sleep(0.5)  # the thread is queued for the lock by now (its passes take milliseconds)
    assert thread.is_alive()
    reader.execute("COMMIT")  # nothing keeps a checkpoint from copying everything now
    writer.commit()  # and the lock is free, after 0.5 s
    thread.join(10)

    passes = checkpointer.passes
    copied_by = [(locked, copied - (passes[i - 1][1] if i else 0)) for i, (locked, copied) in enumerate(passes)]
    assert all(n < 64 for locked, n in copied_by if locked), copied_by  # inside the lock: a few frames at most
    assert any(n > 2000 for locked, n in copied_by if not locked), copied_by  # the long holder's, outside it
    assert os.path.getsize(path) > 2000 * 4000  # all in the database file now
    assert plain.execute("SELECT count(*) FROM t").fetchone()[0] == 2002
    for conn in (plain, checkpointer, writer, reader):
        conn.close()
