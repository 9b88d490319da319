"""The database handle for the service: engine options, write intent and the end of a unit of work."""
import select
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps

from psycopg import pq
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError

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
        options["connect_args"] = {**options.get("connect_args", {}), "factory": sqlite_tuning.SQLiteConnection}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "sqlite":
            sqlite_tuning.tune(engine, app.config["SQLITE_BUSY_TIMEOUT_MS"], app.config["SQLITE_CHECKPOINT_MS"],
                               _write_intent.get)
        elif engine.dialect.name == "postgresql" and not app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping"):
            event.listen(engine, "checkout", _drop_closed_connection)


def _drop_closed_connection(dbapi_connection, _record, _proxy) -> None:
    """A pooled PostgreSQL connection the server has closed (restart, failover, pg_terminate_backend, idle timeout)
    is replaced at checkout, before a request uses it.

    The server says so on the socket: it sends its termination notice and closes, so an idle connection's socket
    turns readable. Looking costs no round trip, where `pool_pre_ping` sent a query with every checkout (on the
    intake, a fifth of a rating's time on PostgreSQL). An idle connection has nothing else to read (the service
    uses no LISTEN), and anything unexpected only costs a new connection: the pool retries the checkout once it
    sees DisconnectionError."""
    pgconn = dbapi_connection.pgconn
    if pgconn.status != pq.ConnStatus.OK:
        raise DisconnectionError("PostgreSQL connection is not OK")
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
    if poller.poll(0):
        raise DisconnectionError("PostgreSQL closed this pooled connection")
