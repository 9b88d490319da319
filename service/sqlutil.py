"""Dialect-aware SQL helpers, so set-based statements read the same on SQLite and PostgreSQL."""
from sqlalchemy.dialects import postgresql, sqlite

from models import db


def insert(table):
    """An INSERT that supports ON CONFLICT on whichever database is configured."""
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def dialect_name() -> str:
    return db.session.get_bind().dialect.name
