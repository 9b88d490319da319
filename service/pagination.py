"""Opaque keyset cursors: pages stay stable while new rows arrive, unlike OFFSET."""
import base64
import json
from typing import Any, NamedTuple

from models import db

from .errors import BadRequest

# Keys are row ids (or the walkthroughs' internal seq): 64-bit, positive. A cursor outside that range is forged, and
# binding it would overflow the database's integer (a 500 instead of a 400).
MAX_KEY = 2**63 - 1


class Page(NamedTuple):
    """One page of a list, newest first; unpacks as (items, next_cursor) and dumps as {"items", "next_cursor"}."""

    items: list[Any]
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["id"]
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_KEY:
            raise ValueError
        return value
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("分页游标无效，请从第一页重新获取", code="invalid_cursor") from None


def keyset_page(stmt, id_column, *, cursor: str | None, limit: int) -> Page:
    """The page of `stmt` after `cursor`, newest first by `id_column` (which need not be among the selected columns).

    A statement of one entity or column gives its values (ORM objects); of several, their rows as tuples."""
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(id_column < after)
    width = len(stmt.column_descriptions)
    rows = db.session.execute(stmt.add_columns(id_column).order_by(id_column.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [row[0] if width == 1 else tuple(row[:width]) for row in rows]
    return Page(items, encode_cursor(rows[-1][-1]) if more else None)
