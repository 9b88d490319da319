"""Supervisors' polling of rectification items: filters, the ETag from the halls' change counters, and the 304.

The Flask view (poll_items) and the fast path in front of Flask (current_etag_if_matches) compute the tag with the
same functions: authenticate() for the token, query_etag() for the counters and the tag."""
import hashlib
from datetime import date

from sqlalchemy import and_, bindparam, select

from models import RectificationChange, RectificationItem, RectificationList

from .auth import Principal, authenticate
from .errors import BadRequest, ServiceError
from .pagination import Page, decode_cursor, keyset_page
from .rectification import CLOCK_STATUSES, ItemRow
from .security import same
from .sqlutil import PlainStatements, plain_statements
from .timeutil import local_date, now


def _filtered(principal: Principal, filters: dict, today: date):
    conditions = []
    hall = filters.get("hall")
    if hall:
        principal.check_hall(hall)
        conditions.append(RectificationItem.hall_code == hall)
    elif principal.halls is not None:
        conditions.append(RectificationItem.hall_code.in_(sorted(principal.halls)))
    if filters.get("list"):
        list_id = select(RectificationList.id).where(RectificationList.code == filters["list"]).scalar_subquery()
        conditions.append(RectificationItem.list_id == list_id)
    if filters.get("status"):
        conditions.append(RectificationItem.status == filters["status"])
    if filters.get("source"):
        conditions.append(RectificationItem.source == filters["source"])
    if filters.get("overdue") is not None:
        late = and_(RectificationItem.status.in_(CLOCK_STATUSES), RectificationItem.due_date < today)
        conditions.append(late if filters["overdue"] else ~late)
    if filters.get("updated_since"):
        # Inclusive, so an item updated in the same instant as the last one seen is never missed.
        conditions.append(RectificationItem.updated_at >= filters["updated_since"])
    return conditions


def _etag_halls(principal: Principal, filters: dict) -> list[str] | None:
    """The halls whose counters the tag covers (None: every hall); outside the caller's scope is a 404."""
    if filters.get("hall"):
        principal.check_hall(filters["hall"])
        return [filters["hall"]]
    return None if principal.halls is None else sorted(principal.halls)


def _counters_stmt(count: int | None):
    stmt = select(RectificationChange.hall_code, RectificationChange.seq)
    if count is not None:
        stmt = stmt.where(RectificationChange.hall_code.in_([bindparam(f"h{i}") for i in range(count)]))
    return stmt


def query_etag(reads: PlainStatements, principal: Principal, filters: dict, cursor: str | None, limit: int,
               today: date) -> str:
    """The tag of a query, from the change counters of the halls it can see: one primary-key read per hall, no item
    read. Any change to an item in those halls moves the tag (so it is conservative: a change outside the filters
    also does); `overdue` turns true at midnight without a write, so the day is part of the tag too."""
    halls = _etag_halls(principal, filters)
    count = None if halls is None else len(halls)
    params = {} if halls is None else {f"h{i}": code for i, code in enumerate(halls)}
    counters = reads.rows(_counters_stmt, params, count)
    scope = "*" if principal.halls is None else ",".join(sorted(principal.halls))
    parts = [scope, repr(sorted((k, str(v)) for k, v in filters.items())), cursor or "", str(limit),
             today.isoformat(), repr(sorted(counters))]
    return '"' + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32] + '"'


def items_etag(principal: Principal, filters: dict, cursor: str | None, limit: int, today: date) -> str:
    with plain_statements() as reads:
        return query_etag(reads, principal, filters, cursor, limit, today)


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or any(same(c, etag) for c in candidates)


def current_etag_if_matches(token: str | None, role: str, filters: dict, *, cursor: str | None, limit: int,
                            if_none_match: str | None) -> str | None:
    """The 304 fast path: the current ETag when the caller's copy (If-None-Match) is current, else None — also for
    anything the normal path must answer (no or bad token, role, hall outside the scope, forged cursor), which then
    gives exactly the answer it always gave. One pooled connection for the token and the counters."""
    if not token or not if_none_match:
        return None
    try:
        decode_cursor(cursor)
    except BadRequest:
        return None
    with plain_statements() as reads:
        try:
            principal = authenticate(token, reads)
            principal.require(role)
            etag = query_etag(reads, principal, filters, cursor, limit, local_date(now()))
        except ServiceError:  # 401, 403, 404: the normal path answers them
            return None
    return etag if etag_matches(if_none_match, etag) else None


def poll_items(principal: Principal, filters: dict, *, cursor: str | None, limit: int,
               if_none_match: str | None) -> tuple[Page | None, str]:
    """(page or None when the client's copy is current, ETag). A 304 costs the token check and the counter reads."""
    today = local_date(now())
    decode_cursor(cursor)  # a forged cursor is a 400 even when nothing changed
    etag = items_etag(principal, filters, cursor, limit, today)
    if etag_matches(if_none_match, etag):
        return None, etag
    stmt = select(RectificationItem, RectificationList.code) \
        .join(RectificationList, RectificationList.id == RectificationItem.list_id) \
        .where(*_filtered(principal, filters, today))
    rows, next_cursor = keyset_page(stmt, RectificationItem.id, cursor=cursor, limit=limit)
    return Page([ItemRow(item, code, today) for item, code in rows], next_cursor), etag
