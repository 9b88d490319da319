"""Dialect-aware SQL helpers, so set-based statements read the same on SQLite and PostgreSQL."""
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
