"""Dialect-aware SQL helpers, so set-based statements read the same on SQLite and PostgreSQL."""
from contextlib import contextmanager

from sqlalchemy.dialects import postgresql, sqlite

from models import db


def insert(table):
    """An INSERT that supports ON CONFLICT on whichever database is configured."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def local_date_of(column):
    """The Asia/Shanghai calendar date of a UTC timestamp column, in SQL (China keeps no daylight saving)."""
    from sqlalchemy import func, literal_column

    if dialect_name() == "postgresql":
        return func.date(func.timezone("Asia/Shanghai", column))
    return func.date(column, literal_column("'+8 hours'"))


def month_of(date_column):
    """'YYYY-MM' of a DATE column, in SQL."""
    from sqlalchemy import func

    if dialect_name() == "postgresql":
        return func.to_char(date_column, "YYYY-MM")
    return func.strftime("%Y-%m", date_column)


# ---- plain reads -------------------------------------------------------------------------------------------
# A hot read-only path (the supervisors' 304) spends more time in the Session and Core execution machinery than in
# the database: these reads compile a Core statement once per dialect and run it on a pooled DBAPI connection.
# Only for reads whose columns need no type processing (strings, integers, booleans).
_compiled: dict = {}


def _driver_sql(key, build, dialect) -> tuple[str, list[str] | None]:
    found = _compiled.get((key, dialect.name))
    if found is None:
        compiled = build().compile(dialect=dialect)
        found = (compiled.string, list(compiled.positiontup) if compiled.positional else None)
        _compiled[(key, dialect.name)] = found
    return found


class PlainReads:
    """Statements on one pooled DBAPI connection; no Session, no ORM objects, no transaction of ours to end (the
    pool rolls back on return)."""

    def __init__(self, connection, dialect):
        self._connection, self._dialect = connection, dialect

    def rows(self, key, build, params: dict) -> list[tuple]:
        """Rows of the statement `build()` (compiled once per key and dialect) with these bound parameters."""
        sql, order = _driver_sql(key, build, self._dialect)
        cursor = self._connection.cursor()
        try:
            cursor.execute(sql, tuple(params[name] for name in order) if order is not None else params)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()


@contextmanager
def plain_reads():
    engine = db.engine
    connection = engine.raw_connection()
    try:
        yield PlainReads(connection, engine.dialect)
    finally:
        connection.close()  # back to the pool, which resets (rolls back) it
