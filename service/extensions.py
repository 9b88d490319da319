"""Extension objects and database engine tuning (SQLite pragmas, write transactions)."""
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
    db.init_app(app)
    migrate.init_app(app, db, render_as_batch=True, directory=_migrations_dir())
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            _tune_sqlite(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")


def _tune_sqlite(engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):
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
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")
