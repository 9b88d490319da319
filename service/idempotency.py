"""Idempotency-Key of POST /ratings: kept on the rating it created, scoped to its client, for IDEMPOTENCY_TTL_HOURS.

A key belongs to its client: the rating token where one is sent, otherwise the client's address and X-Client-Id.
The same key from another client is another request. A retry by the same client with the same key and body gets
the first answer again, rebuilt from the rating row (no response is stored); with another body it is a conflict.
After the TTL the key means nothing any more: the same key is a new request, and the purge job clears it.
"""
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import bindparam, func, select, update

from models import Rating, db

from .errors import BadRequest, Conflict
from .sqlutil import PlainStatements

MAX_KEY_LENGTH = 64
_RATINGS = Rating.__table__


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise BadRequest(f"Idempotency-Key 必须是 1 到 {MAX_KEY_LENGTH} 个可打印的半角字符（字母、数字或符号）", code="invalid_idempotency_key")
    return key


def _mac(purpose: bytes, text: str) -> str:
    return hmac.new(current_app.config["SECRET_KEY"].encode(), purpose + text.encode(), hashlib.sha256).hexdigest()


def request_hash(payload) -> str:
    """Same JSON value → same hash, whatever the key order or whitespace of the body.

    Keyed with the server secret: the body may carry a rater's name and phone, and a plain hash of a short
    body could be reversed by trying every mobile number.
    """
    return _mac(b"idempotency:", json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")))


def scope_of(rating_token: str | None, ip: str, client_id: str | None) -> str:
    """The client a key belongs to: its rating token, else its address and X-Client-Id. A keyed hash (128 bits),
    so neither a token nor a client address is kept in clear."""
    client = f"token\x1f{rating_token}" if rating_token else f"client\x1f{ip}\x1f{client_id or ''}"
    return _mac(b"idempotency-scope:", client)[:32]


def cutoff(now: datetime) -> datetime:
    """Keys of ratings created before this have expired."""
    return now - timedelta(hours=current_app.config["IDEMPOTENCY_TTL_HOURS"])


class Prior(NamedTuple):
    """The rating a live key created: what its 201 is rebuilt from."""
    id: int
    score: int
    created_at: datetime


def _by_key():
    return select(_RATINGS.c.id, _RATINGS.c.score, _RATINGS.c.created_at, _RATINGS.c.request_hash).where(
        _RATINGS.c.idempotency_scope == bindparam("scope"), _RATINGS.c.idempotency_key == bindparam("key"))


def lookup(reads: PlainStatements, scope: str, key: str, digest: str, now: datetime) -> tuple[Prior | None, bool]:
    """(the rating this live key created or None, whether an expired use of the key is still on a rating).
    The same live key with another body is a conflict."""
    rows = reads.rows(_by_key, {"scope": scope, "key": key})
    if not rows:
        return None, False
    rating_id, score, created_at, stored_hash = rows[0]
    if created_at < cutoff(now):
        return None, True
    if not hmac.compare_digest(stored_hash, digest):
        raise Conflict("该 Idempotency-Key 已用于另一个内容不同的请求，请为新请求生成新的键",
                       code="idempotency_key_reused")
    return Prior(rating_id, score, created_at), False


def _release():
    return update(_RATINGS).where(_RATINGS.c.idempotency_scope == bindparam("scope"),
                                  _RATINGS.c.idempotency_key == bindparam("key"),
                                  _RATINGS.c.created_at < bindparam("cutoff")) \
        .values(idempotency_scope=None, idempotency_key=None, request_hash=None)


def release_expired(writes: PlainStatements, scope: str, key: str, now: datetime) -> None:
    """In the caller's write transaction: the key's expired use lets go of it, so that it can be used anew."""
    writes.rows(_release, {"scope": scope, "key": key, "cutoff": cutoff(now)})


# Ratings below the last watermark looked at again: on PostgreSQL a rating can commit after one with a higher id.
PURGE_LOOKBACK_IDS = 1000


def purge_expired(now: datetime, watermark: dict | None) -> tuple[int, dict]:
    """Clears the keys of ratings past the TTL (in the caller's transaction; the job commits) → (keys cleared,
    new watermark). Ratings come in id order, so the expired ones are the ids from the last watermark up to the
    first rating still inside the TTL: a primary-key range, short when the job runs often, never a scan of all
    ratings. A key the range missed is harmless: a lookup treats it as expired, and its reuse releases it."""
    limit = cutoff(now)
    last = (watermark or {}).get("rating_id", 0)
    first_live = db.session.execute(select(Rating.id).where(Rating.id > last, Rating.created_at >= limit)
                                    .order_by(Rating.id).limit(1)).scalar()
    if first_live is None:
        first_live = (db.session.execute(select(func.max(Rating.id))).scalar() or last) + 1
    cleared = db.session.execute(
        update(Rating).where(Rating.id > last - PURGE_LOOKBACK_IDS, Rating.id < first_live,
                             Rating.idempotency_key.is_not(None), Rating.created_at < limit)
        .values(idempotency_scope=None, idempotency_key=None, request_hash=None)
        .execution_options(synchronize_session=False)).rowcount
    return cleared, {"rating_id": max(last, first_live - 1)}
