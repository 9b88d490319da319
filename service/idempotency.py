"""Idempotency-Key handling: a retried request with the same key and body gets the first response again."""
import hashlib
import hmac
import json
from datetime import timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import bindparam, delete, insert, select

from models import IdempotencyKey, db

from .errors import BadRequest, Conflict
from .sqlutil import PlainStatements
from .timeutil import now

MAX_KEY_LENGTH = 64


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise BadRequest(f"Idempotency-Key 必须是 1 到 {MAX_KEY_LENGTH} 个可打印 ASCII 字符", code="invalid_idempotency_key")
    return key


def request_hash(payload) -> str:
    """Same JSON value → same hash, whatever the key order or whitespace of the body.

    Keyed with the server secret: the body may carry a rater's name and phone, and a plain hash of a short
    body could be reversed by trying every mobile number.
    """
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"idempotency:" + canonical.encode(), hashlib.sha256).hexdigest()


_TABLE = IdempotencyKey.__table__


class Stored(NamedTuple):
    """The first response to a key: its body (minus what can be derived again) and the record it created."""
    response_body: str
    resource_id: int | None


def _select():
    return select(_TABLE.c.request_hash, _TABLE.c.response_body, _TABLE.c.resource_id) \
        .where(_TABLE.c.scope == bindparam("scope"), _TABLE.c.key == bindparam("key"))


def lookup(statements: PlainStatements, scope: str, key: str, digest: str) -> Stored | None:
    """The stored response for this key, or None; the same key with another body is a conflict."""
    rows = statements.rows("idempotency.lookup", _select, {"scope": scope, "key": key})
    if not rows:
        return None
    request_hash, response_body, resource_id = rows[0]
    if request_hash != digest:
        raise Conflict("该 Idempotency-Key 已用于另一个不同内容的请求，请为新请求生成新的键",
                       code="idempotency_key_reused")
    return Stored(response_body, resource_id)


def remember(statements: PlainStatements, scope: str, key: str, digest: str, status: int, body: dict,
             resource_id: int | None) -> None:
    """Writes the response in the caller's write transaction, so the record and its key commit together. A key
    stored by a concurrent request raises IntegrityError here (or at commit)."""
    statements.rows("idempotency.remember", lambda: insert(_TABLE), {
        "scope": scope, "key": key, "request_hash": digest, "status_code": status,
        "response_body": json.dumps(body, ensure_ascii=False), "resource_id": resource_id, "created_at": now()})


def stored_body(row: Stored) -> dict:
    return json.loads(row.response_body)


def purge_expired() -> int:
    cutoff = now() - timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])
    result = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    db.session.commit()
    return result.rowcount
