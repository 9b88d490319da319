"""SQLite under several processes: the writers' lock file, connection pragmas and WAL checkpoints off the
request path. PostgreSQL needs none of this."""
import fcntl
import logging
import os
import sqlite3
import threading
import time

from sqlalchemy import event

# A write transaction of a request holds the lock for well under a millisecond: a waiter polls every 0.1 ms for the
# first 10 ms (backing off from the start, it overslept each release and two workers served fewer ratings than
# one), then backs off to 1 ms polls for a long holder such as a CLI import.
_POLL_SHORT, _POLL_SHORT_FOR, _POLL_LONG = 0.0001, 0.01, 0.001


class SQLiteConnection(sqlite3.Connection):
    """A pysqlite connection whose write transactions also queue on a lock file beside the database.

    SQLite's busy handler polls with a growing sleep (1, 2, 5, 10, 15, 20, 25 ms ...), so a writer that finds the
    lock taken typically sleeps far longer than the few milliseconds the holder keeps it: two gunicorn workers then
    spend most of their time asleep and serve fewer requests than one. An flock on a file is handed over as soon as
    it is released. It only orders the writers that use it: SQLite's own lock and busy timeout still decide, so any
    other writer (a CLI, sqlite-utils) is as safe as before.
    """

    write_lock = None  # the lock file, opened per connection so that threads of one process queue too
    holds_write_lock = False

    def open_write_lock(self, database: str) -> None:
        """Queue this connection's write transactions on the lock file beside the database file."""
        self.write_lock = open(f"{database}-writelock", "a+b")  # noqa: SIM115 - closed with the connection

    def acquire_write_lock(self, timeout_s: float) -> None:
        if self.write_lock is None or self.holds_write_lock:
            return
        fd = self.write_lock.fileno()
        start = time.monotonic()
        pause = _POLL_SHORT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.holds_write_lock = True
                return
            except BlockingIOError:
                waited = time.monotonic() - start
                if waited >= timeout_s:
                    return  # leave it to SQLite's busy timeout, which reports "database is locked" as before
                time.sleep(pause)
                if waited > _POLL_SHORT_FOR:
                    pause = min(pause * 2, _POLL_LONG)

    def wait_for_write_lock(self) -> None:
        """Block until this connection holds the writers' lock: for a background thread, which may wait as long as
        it takes, and would rarely catch the lock free between two requests' transactions by polling."""
        if self.write_lock is not None and not self.holds_write_lock:
            fcntl.flock(self.write_lock.fileno(), fcntl.LOCK_EX)
            self.holds_write_lock = True

    def release_write_lock(self) -> None:
        if self.holds_write_lock:
            self.holds_write_lock = False
            fcntl.flock(self.write_lock.fileno(), fcntl.LOCK_UN)

    def commit(self):
        try:
            super().commit()
        finally:
            self.release_write_lock()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self.release_write_lock()

    def close(self):
        try:
            super().close()
        finally:
            self.release_write_lock()
            if self.write_lock is not None:
                self.write_lock.close()
                self.write_lock = None


def tune(engine, busy_timeout_ms: int, checkpoint_ms: int, wants_write) -> None:
    """Pragmas on every new connection, and BEGIN IMMEDIATE (queued on the lock file) when `wants_write()`."""
    database = engine.url.database
    on_disk = bool(database) and database != ":memory:" and not database.startswith("file:")
    checkpoint_ms = checkpoint_ms if on_disk else 0

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):
        if on_disk and isinstance(dbapi_conn, SQLiteConnection):
            dbapi_conn.open_write_lock(database)
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own handling is unreliable).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        if checkpoint_ms > 0:
            # The WAL is copied back into the database by this process's checkpoint thread, not by whichever commit
            # crosses SQLite's 1000-page mark (while it still holds the writers' lock).
            cur.execute("PRAGMA wal_autocheckpoint = 0")
            ensure_checkpoint_thread(database, checkpoint_ms)
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        if not wants_write():
            conn.exec_driver_sql("BEGIN")
            return
        begin_sqlite_write(conn.connection.dbapi_connection, conn.exec_driver_sql, busy_timeout_ms)


def begin_sqlite_write(dbapi_conn, execute, busy_timeout_ms: int) -> None:
    """BEGIN IMMEDIATE through `execute`, once this connection holds the writers' lock file (if it has one)."""
    if isinstance(dbapi_conn, SQLiteConnection):
        dbapi_conn.acquire_write_lock(busy_timeout_ms / 1000)
    try:
        execute("BEGIN IMMEDIATE")
    except BaseException:
        if isinstance(dbapi_conn, SQLiteConnection):
            dbapi_conn.release_write_lock()
        raise


# ---- WAL checkpoints off the request path -------------------------------------------------------------------
# By default SQLite checkpoints inside the COMMIT that takes the WAL past 1000 pages: that request then copies the
# pages into the database and fsyncs, with the writers' lock file still held, so every other writer waits too
# (the tail of the intake's latency). With SQLITE_CHECKPOINT_MS > 0 each process that opens the database runs one
# daemon thread that checkpoints (PASSIVE: it never waits for, nor blocks, readers and writers) that often, on
# its own connection and without the GIL while SQLite works.
_checkpointers: dict[str, tuple[int, threading.Thread]] = {}
_checkpointers_lock = threading.Lock()
_log = logging.getLogger(__name__)


def ensure_checkpoint_thread(database: str, interval_ms: int) -> None:
    with _checkpointers_lock:
        found = _checkpointers.get(database)
        if found is not None and found[0] == os.getpid() and found[1].is_alive():
            return  # (a thread of the parent does not survive a fork: a gunicorn worker starts its own)
        thread = threading.Thread(target=_checkpoint_loop, args=(database, interval_ms / 1000),
                                  name="sqlite-wal-checkpoint", daemon=True)
        thread.start()
        _checkpointers[database] = (os.getpid(), thread)


def _checkpoint_loop(database: str, interval_s: float) -> None:
    connection = None
    while True:
        time.sleep(interval_s)
        try:
            if connection is None:
                connection = SQLiteConnection(database, isolation_level=None, check_same_thread=False)
                connection.open_write_lock(database)
            _checkpoint(connection)
        except Exception:  # noqa: BLE001 - the loop must outlive a locked or vanished file; it tries again
            _log.debug("WAL checkpoint of %s failed; retrying", database, exc_info=True)
            if connection is not None:
                connection.close()
                connection = None


def _checkpoint(connection: "SQLiteConnection") -> None:
    """Copy the WAL into the database while writers go on (PASSIVE passes), then copy the few frames they added
    meanwhile inside the writers' queue, so that the WAL is complete in the database and the next writer starts it
    afresh. (Under steady writes PASSIVE alone never catches up, and the WAL would grow without end; the last pass
    is kept short because writers wait for it. It runs even when the passes found nothing left to copy: skipping
    it then, the WAL never started afresh under full intake and grew to 800 MB in bench/ratings, against 25 MB.)

    When the queue kept this thread waiting long, the holder was a job's run or an import that has just committed
    many pages: copying them inside the queue kept the next writer waiting (0.1 s after a run that made 50,000
    items). The thread then lets the lock go, copies them in passes first, and queues again."""
    for attempt in range(_CHECKPOINT_QUEUEINGS):
        if _passes(connection):
            return
        started = time.monotonic()
        connection.wait_for_write_lock()
        try:
            if time.monotonic() - started < _CHECKPOINT_LONG_WAIT or attempt == _CHECKPOINT_QUEUEINGS - 1:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                return
        finally:
            connection.release_write_lock()


def _passes(connection: "SQLiteConnection") -> bool:
    """PASSIVE passes, again while a pass still found much to copy; True when the WAL is empty."""
    copied_before = 0
    for _ in range(_CHECKPOINT_PASSES):
        _busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames <= 0:
            return True
        if copied - copied_before < _CHECKPOINT_FEW_FRAMES:
            return False
        copied_before = copied
    return False


# A request's write transaction holds the writers' lock well under a millisecond; under full intake a queue of them
# kept a request waiting 20 ms at its p99; a job's run holds it for seconds.
_CHECKPOINT_PASSES, _CHECKPOINT_FEW_FRAMES, _CHECKPOINT_LONG_WAIT, _CHECKPOINT_QUEUEINGS = 4, 64, 0.1, 3
