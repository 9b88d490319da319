"""The database handle for the service: engine options, write intent and the end of a unit of work."""
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps

from models import db

from . import sqlite_tuning

# Set for requests, jobs and commands that will write. On SQLite their transactions start with BEGIN IMMEDIATE,
# so two writers queue on the busy timeout instead of one failing with "database is locked" when it upgrades its
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


def writes(fn: Callable) -> Callable:
    """Marks a service function that writes: whoever calls it (a request, a job, a CLI command) gets a write
    transaction, so the function need not rely on its caller having declared the intent."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        with writing():
            return fn(*args, **kwargs)

    return wrapper


def end_unit_of_work() -> None:
    """Close the session, so no transaction (or SQLite lock) outlives the request or the job."""
    _write_intent.set(False)
    db.session.remove()


def init_db(app) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        # A SQLite file does not go stale like a server connection: pinging it costs a query per request for nothing.
        options.pop("pool_pre_ping", None)
        options["connect_args"] = {**options.get("connect_args", {}), "factory": sqlite_tuning.SQLiteConnection}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            sqlite_tuning.tune(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"], app.config["SQLITE_CHECKPOINT_MS"],
                               _write_intent.get)
