"""Dialect-aware SQL helpers, so set-based statements read the same on SQLite and PostgreSQL."""
import logging
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Date, cast, func, literal, literal_column, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from models import db

from .sqlite_tuning import begin_sqlite_write


def insert(table):
    """An INSERT that supports ON CONFLICT on whichever database is configured."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def settled_below() -> int | None:
    """PostgreSQL: the oldest transaction still running. Every transaction below it has ended, so the rows it wrote
    are all visible now and no more will appear. An id comes from a sequence when the row is written, so a long or
    held-up transaction commits rows below ids already committed and taken by a job; the jobs that follow new rows
    (the outbox's fan-out, the collecting of 差评) follow the writing transaction's id instead (a `txid` column,
    server default pg_current_xact_id()) up to this. None on SQLite, where one writer at a time makes the id order
    the commit order."""
    if dialect_name() != "postgresql":
        return None
    return db.session.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")).scalar()


def local_date_of(column):
    """The Asia/Shanghai calendar date of a UTC timestamp column, in SQL (China keeps no daylight saving)."""
    if dialect_name() == "postgresql":
        return func.date(func.timezone("Asia/Shanghai", column))
    return func.date(column, literal_column("'+8 hours'"))


def joined(column, separator: str, order_by):
    """The values of `column` in a group joined by `separator`, in `order_by` order, in SQL."""
    if dialect_name() == "postgresql":
        return func.string_agg(column, postgresql.aggregate_order_by(literal(separator), order_by))
    return func.group_concat(column, separator)  # SQLite: in the order the rows are read (an index's order)


def month_of(date_column):
    """'YYYY-MM' of a DATE column, in SQL."""
    if dialect_name() == "postgresql":
        return func.to_char(date_column, "YYYY-MM")
    return func.strftime("%Y-%m", date_column)


def month_start_of(date_column):
    """The first day of the month of a DATE column, as a DATE, in SQL (no bound parameter, so the same expression
    can stand in a SELECT and its GROUP BY on PostgreSQL)."""
    if dialect_name() == "postgresql":
        return cast(func.date_trunc(literal_column("'month'"), date_column), Date)
    return func.date(date_column, literal_column("'start of month'"))


# ---- plain statements -------------------------------------------------------------------------------------
# Hot paths (the supervisors' 304, the public rating intake) spent more time in the Session and Core execution
# machinery than in the database: these statements are compiled once per dialect from Core and run on a pooled
# DBAPI connection, with the columns' own type conversions applied to parameters and results.
@dataclass(frozen=True)
class _Plain:
    sql: str
    names: tuple[str, ...] | None  # None for a positional paramstyle (SQLite); else the names of the slots
    # One per placeholder (positional) or per name: (name, required, default, conversion of the column's type).
    # A default is a value the statement binds itself, e.g. the 1 of "count + 1".
    slots: tuple[tuple[str, bool, object, Callable | None], ...]
    results: tuple[Callable | None, ...] | None  # per returned column; None when no column needs converting

    def arguments(self, params: dict):
        values = []
        for name, required, default, convert in self.slots:
            value = params[name] if required else params.get(name, default)
            values.append(value if convert is None else convert(value))
        return tuple(values) if self.names is None else dict(zip(self.names, values, strict=True))


_compiled: dict[tuple, _Plain] = {}
_sql_log = logging.getLogger("sqlalchemy.engine.Engine")


def _plain(key: tuple, build: Callable, shape: tuple, dialect, names) -> _Plain:
    found = _compiled.get((key, dialect.name))
    if found is None:
        stmt = build(*shape)
        compiled = stmt.compile(dialect=dialect, column_keys=list(names))
        order = tuple(compiled.positiontup) if compiled.positional else tuple(compiled.binds)
        slots = []
        for name in order:
            bind = compiled.binds[name]
            slots.append((name, bind.required, None if bind.required else bind.effective_value,
                          bind.type.dialect_impl(dialect).bind_processor(dialect)))
        results = None
        if getattr(stmt, "exported_columns", None):
            converts = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in stmt.exported_columns)
            results = converts if any(converts) else None
        found = _Plain(compiled.string, None if compiled.positional else order, tuple(slots), results)
        _compiled[(key, dialect.name)] = found
    return found


def _key_of(build, params, shape) -> tuple[tuple, Callable, object, tuple]:
    """(cache key, builder, parameters, shape) of a call `(build, params, *shape)`.

    The statement is named by the function that builds it, plus its shape (e.g. how many rows a multi-row INSERT
    has): `build(*shape)` must always build the same statement, so a module-level function, never a lambda."""
    return (build, shape), build, params, shape


class PlainStatements:
    """Core statements run on one pooled DBAPI connection; no Session, no ORM objects. A statement is named by the
    function that builds it (and any shape arguments it takes), built and compiled once per dialect; every later
    use must bind the same names: `rows(build, params, *shape)` runs `build(*shape)`.

    Reads need no transaction of their own (the pool rolls back the connection when it is returned). A write is
    `begin_write()`, statements, `commit()`; a database constraint violation raises sqlalchemy's IntegrityError,
    as the Session would, and leaves the transaction to roll back."""

    def __init__(self, connection, dialect):
        self._connection, self._dialect = connection, dialect
        self._cursor = None
        self._writing = False

    def _cursor_(self):
        if self._cursor is None:
            self._cursor = self._connection.cursor()  # one for all the statements: they never overlap
        return self._cursor

    def close(self) -> None:
        """Roll back a write transaction left open (the block failed or never committed), close the cursor."""
        if self._writing:
            self.rollback()
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None

    def rows(self, build, params, *shape) -> list[tuple]:
        """Rows of the statement `build(*shape)` with these bound parameters (none for a statement returning
        nothing)."""
        key, build, params, shape = _key_of(build, params, shape)
        plain = _plain(key, build, shape, self._dialect, params)
        cursor = self._cursor_()
        self._run(cursor.execute, plain, plain.arguments(params))
        if cursor.description is None:
            return []
        rows = cursor.fetchall()
        if plain.results is None:
            return [tuple(row) for row in rows]
        return [tuple(value if convert is None else convert(value)
                      for convert, value in zip(plain.results, row, strict=True)) for row in rows]

    def _run(self, execute, plain: _Plain, arguments) -> None:
        if _sql_log.isEnabledFor(logging.INFO):  # logged like the engine's own statements (SQLALCHEMY_ECHO)
            _sql_log.info("[plain] %s", plain.sql)
            _sql_log.info("[plain] %r", arguments)
        try:
            execute(plain.sql, arguments)
        except self._dialect.loaded_dbapi.IntegrityError as error:
            raise IntegrityError(plain.sql, None, error) from error

    def begin_write(self) -> None:
        """Start the write transaction. On SQLite: BEGIN IMMEDIATE, queued on the writers' lock file as the Session's
        write transactions are; on PostgreSQL the transaction that the reads began simply goes on."""
        if self._dialect.name == "sqlite":
            dbapi_connection = self._connection.dbapi_connection
            begin_sqlite_write(dbapi_connection, dbapi_connection.execute, current_app.config["SQLITE_BUSY_TIMEOUT_MS"])
        self._writing = True

    def commit(self) -> None:
        try:
            self._connection.commit()
        except self._dialect.loaded_dbapi.IntegrityError as error:  # a deferred constraint
            raise IntegrityError("COMMIT", None, error) from error
        finally:
            self._writing = False

    def rollback(self) -> None:
        self._writing = False
        self._connection.rollback()


@contextmanager
def plain_statements():
    """A PlainStatements on a pooled DBAPI connection; rolled back if the block fails (or left without a commit)."""
    engine = db.engine
    connection = engine.raw_connection()
    statements = PlainStatements(connection, engine.dialect)
    try:
        yield statements
    finally:
        statements.close()
        connection.close()  # back to the pool, which resets (rolls back) it

