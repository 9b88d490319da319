"""Opaque keyset cursors: pages stay stable while new rows arrive, unlike OFFSET."""
import base64
import json

from models import db

from .errors import BadRequest


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["id"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError
        return value
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("分页游标无效，请从第一页重新获取", code="invalid_cursor") from None


def keyset_page(stmt, id_column, *, cursor: str | None, limit: int):
    """Newest first. Returns (rows, next_cursor)."""
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(id_column < after)
    rows = db.session.execute(stmt.order_by(id_column.desc()).limit(limit + 1)).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1].id) if more else None)
