"""Extension objects and database engine tuning (SQLite pragmas, write transactions)."""
import fcntl
import sqlite3
import time
from contextlib import contextmanager
from contextvars import ContextVar

from flask_migrate import Migrate
from flask_smorest import Api
from sqlalchemy import event

from models import db

migrate = Migrate()
api = Api()

# Set for requests and jobs that will write. On SQLite their transactions start with BEGIN IMMEDIATE, so two
# writers queue on the busy timeout instead of one failing with "database is locked" when it upgrades its
# read lock (WAL's SQLITE_BUSY_SNAPSHOT is not retried by the busy handler).
_write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)


def declare_write_intent(value: bool = True):
    return _write_intent.set(value)


@contextmanager
def writing():
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


def end_unit_of_work() -> None:
    """Close the request's session, so no transaction (or SQLite lock) outlives the request."""
    _write_intent.set(False)
    db.session.remove()


def init_db(app) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        # A SQLite file does not go stale like a server connection: pinging it costs a query per request for nothing.
        options.pop("pool_pre_ping", None)
        options["connect_args"] = {**options.get("connect_args", {}), "factory": SQLiteConnection}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True, directory=_migrations_dir())
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _tune_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")


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

    def acquire_write_lock(self, timeout_s: float) -> None:
        if self.write_lock is None or self.holds_write_lock:
            return
        fd = self.write_lock.fileno()
        deadline = time.monotonic() + timeout_s
        pause = 0.0001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.holds_write_lock = True
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return  # leave it to SQLite's busy timeout, which reports "database is locked" as before
                time.sleep(pause)
                pause = min(pause * 2, 0.001)

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


def _tune_sqlite(engine, busy_timeout_ms: int) -> None:
    database = engine.url.database
    lock_path = f"{database}-writelock" if database and database != ":memory:" and \
        not database.startswith("file:") else None

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):
        if lock_path and isinstance(dbapi_conn, SQLiteConnection):
            dbapi_conn.write_lock = open(lock_path, "a+b")  # noqa: SIM115 - closed with the connection
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own handling is unreliable).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        if not _write_intent.get():
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
