"""一体验一反馈一清单: rectification items and lists, the state machine staff and supervisors drive, polling views."""
import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import and_, bindparam, func, literal, or_, select, update

from models import ItemEvent, Rating, RectificationChange, RectificationItem, RectificationList, db

from . import outbox, workdays
from .auth import Principal, accepted_principal
from .database import writes
from .errors import BadRequest, Conflict, NotFound, PreconditionFailed, ValidationFailed
from .pagination import decode_cursor, encode_cursor
from .receipts import receipt_matches
from .security import same
from .sqlutil import insert, plain_statements
from .timeutil import local_date, now

STATUSES = {
    "pending": "待核实",
    "rectifying": "整改中",
    "awaiting_acceptance": "待验收",
    "closed": "已销号",
    "appealed": "申诉中",
    "dismissed": "不予整改（申诉成立）",
}
OPEN_STATUSES = ("pending", "rectifying", "awaiting_acceptance", "appealed")
CLOSED_STATUSES = ("closed", "dismissed")
# The deadline clock runs only while the hall holds the ball; submitted or appealed items wait on a supervisor.
CLOCK_STATUSES = ("pending", "rectifying")
RESOLUTIONS = {"immediate": "立行立改", "scheduled": "限期整改", "explain": "解释说明"}
SOURCES = {"rating": "好差评", "walkthrough": "走流程"}
LIST_STATUSES = {"open": "整改中", "closed": "已销号"}


@dataclass(frozen=True)
class Action:
    label: str
    sources: tuple[str, ...]
    to: str
    role: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ("note",)


ACTIONS = {
    "verify": Action("回访核实", ("pending",), "rectifying", "staff", ("resolution",), ("note", "callback_note")),
    "appeal": Action("申诉", ("pending", "rectifying"), "appealed", "staff", ("note",)),
    "uphold_appeal": Action("申诉成立", ("appealed",), "dismissed", "supervisor"),
    "deny_appeal": Action("驳回申诉", ("appealed",), "rectifying", "supervisor"),
    "submit": Action("提交整改结果", ("rectifying",), "awaiting_acceptance", "staff", ("measures", "result"),
                     ("note", "answered")),
    "accept": Action("验收销号", ("awaiting_acceptance",), "closed", "supervisor"),
    "reject": Action("验收不通过", ("awaiting_acceptance",), "rectifying", "supervisor", ("note",)),
    "reopen": Action("回头看", ("closed",), "rectifying", "supervisor", ("note",)),
}
EXTRA_FIELDS = ("note", "resolution", "callback_note", "measures", "result", "answered")
FIELD_LABELS = {"note": "说明", "resolution": "处理方式", "callback_note": "回访记录", "measures": "整改措施",
                "result": "整改结果", "answered": "是否已反馈评价人"}


# ---- deadlines ---------------------------------------------------------------------------------------------
def verify_days() -> int:
    return current_app.config["RECTIFY_VERIFY_DAYS"]


def rectify_days(resolution: str | None) -> int:
    key = "RECTIFY_SCHEDULED_DAYS" if resolution == "scheduled" else "RECTIFY_DAYS"
    return current_app.config[key]


def _set_deadline(item: RectificationItem, start: date, days: int) -> None:
    found = workdays.deadline(start, days)
    item.due_start, item.due_days, item.due_date, item.due_provisional = start, days, found.due, found.provisional
    item.overdue_flagged_at = None  # a new deadline can be missed (and flagged) again


def is_overdue(item: RectificationItem, today: date | None = None) -> bool:
    """Past the end of the due day (Asia/Shanghai) while the hall still has to act."""
    return item.status in CLOCK_STATUSES and (today or local_date(now())) > item.due_date


def mark_changed(stamp: datetime) -> None:
    """Bump the change counter of every hall whose items this transaction stamped with `stamp` (every write sets
    updated_at), so pollers' ETags move. Called last, just before the commit, to hold the counter row briefly."""
    db.session.flush()
    halls = select(RectificationItem.hall_code, literal(1), literal(stamp, RectificationChange.changed_at.type)) \
        .where(RectificationItem.updated_at == stamp).distinct()
    table = RectificationChange.__table__
    stmt = insert(table).from_select(["hall_code", "seq", "changed_at"], halls)
    db.session.execute(stmt.on_conflict_do_update(index_elements=["hall_code"],
                                                  set_={"seq": table.c.seq + 1, "changed_at": stamp}))


def recount_deadlines(first: date, last: date) -> int:
    """After a calendar change: count open deadlines starting in [first, last] again (one UPDATE per distinct start
    and length, not one per item)."""
    groups = db.session.execute(
        select(RectificationItem.due_start, RectificationItem.due_days).distinct()
        .where(RectificationItem.status.in_(OPEN_STATUSES), RectificationItem.due_start.between(first, last))).all()
    if not groups:
        return 0
    calendar = workdays.load(min(g[0] for g in groups), max(g[0] for g in groups))
    stamp, changed = now(), 0
    for start, days in groups:
        found = calendar.add_working_days(start, days)
        match = and_(RectificationItem.due_start == start, RectificationItem.due_days == days,
                     RectificationItem.status.in_(OPEN_STATUSES),
                     or_(RectificationItem.due_date != found.due, RectificationItem.due_provisional != found.provisional))
        db.session.execute(ItemEvent.__table__.insert().from_select(
            ["item_id", "at", "actor", "action", "from_status", "to_status", "note"],
            select(RectificationItem.id, _lit(stamp), _lit("系统"), _lit("deadline_changed"), RectificationItem.status,
                   RectificationItem.status, _lit(f"工作日历调整，整改期限改为 {found.due.isoformat()}"))
            .where(match)))
        changed += db.session.execute(update(RectificationItem).where(match).values(
            due_date=found.due, due_provisional=found.provisional, updated_at=stamp)
            .execution_options(synchronize_session=False)).rowcount
    if changed:
        mark_changed(stamp)
    return changed


def _lit(value):
    return literal(value)


# ---- views -------------------------------------------------------------------------------------------------
def item_view(item: RectificationItem, list_code: str, today: date) -> dict:
    return {
        "id": item.id, "list_code": list_code, "source": item.source, "source_id": item.source_id,
        "hall": item.hall_code, "item": item.item_code, "window": item.window_code, "problem": item.problem,
        "category": item.category, "status": item.status,
        "state_family": "closed" if item.status in CLOSED_STATUSES else "open",
        "status_label": STATUSES[item.status], "due_date": item.due_date, "due_provisional": item.due_provisional,
        "overdue": is_overdue(item, today), "resolution": item.resolution, "measures": item.measures,
        "result": item.result, "callback_at": item.callback_at, "answered_at": item.answered_at,
        "rater_satisfaction": item.rater_satisfaction, "version": item.version, "updated_at": item.updated_at,
    }


def event_view(event: ItemEvent) -> dict:
    return {"at": event.at, "actor": event.actor, "action": event.action, "from": event.from_status,
            "to": event.to_status, "note": event.note}


def rater_view(item: RectificationItem) -> dict:
    # Measures and result reach the rater once staff have fed them back (submit with answered=true).
    shown = item.answered_at is not None
    return {"status": item.status, "status_label": STATUSES[item.status], "due_date": item.due_date,
            "measures": item.measures if shown else None, "result": item.result if shown else None,
            "answered_at": item.answered_at}


def item_for_rating(rating_id: int, *, lock: bool = False) -> RectificationItem | None:
    stmt = select(RectificationItem).where(RectificationItem.source == "rating",
                                           RectificationItem.source_id == str(rating_id))
    if lock:  # see _scoped_item: the rater's answer checks then writes, like an action
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return db.session.execute(stmt).scalar_one_or_none()


def _scoped_item(principal: Principal, item_id: int, *, lock: bool = False) -> tuple[RectificationItem, str]:
    stmt = select(RectificationItem, RectificationList.code) \
        .join(RectificationList, RectificationList.id == RectificationItem.list_id).where(RectificationItem.id == item_id)
    if lock:
        # An action checks version and status, then writes: without the row lock two concurrent actions on
        # PostgreSQL both pass the checks against the same read and both write (lost update, two events from one
        # status). SQLite needs none: the POST already holds the write lock (BEGIN IMMEDIATE).
        stmt = stmt.with_for_update(of=RectificationItem).execution_options(populate_existing=True)
    row = db.session.execute(stmt).first()
    if row is None or not principal.sees(row[0].hall_code):
        raise NotFound("未找到该整改事项")
    return row[0], row[1]


def get_item(principal: Principal, item_id: int) -> dict:
    item, code = _scoped_item(principal, item_id)
    events = db.session.execute(select(ItemEvent).where(ItemEvent.item_id == item.id)
                                .order_by(ItemEvent.at, ItemEvent.id)).scalars()
    return {**item_view(item, code, local_date(now())), "events": [event_view(e) for e in events]}


# ---- polling -----------------------------------------------------------------------------------------------
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


def _etag_of(principal: Principal, filters: dict, cursor: str | None, limit: int, today: date,
             counters: list[tuple]) -> str:
    """The tag of a query from what it depends on; both the full path and the 304 fast path compute it here."""
    scope = "*" if principal.halls is None else ",".join(sorted(principal.halls))
    parts = [scope, repr(sorted((k, str(v)) for k, v in filters.items())), cursor or "", str(limit),
             today.isoformat(), repr(sorted(counters))]
    return '"' + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32] + '"'


def items_etag(principal: Principal, filters: dict, cursor: str | None, limit: int, today: date) -> str:
    """From the change counters of the halls the query can see: one primary-key read per hall, no item read.

    Any change to an item in those halls moves the tag (so it is conservative: a change outside the filters also
    does); `overdue` turns true at midnight without a write, so the day is part of the tag too."""
    halls = _etag_halls(principal, filters)
    params = {} if halls is None else {f"h{i}": code for i, code in enumerate(halls)}
    counters = [tuple(row) for row in db.session.execute(_counters_stmt(None if halls is None else len(halls)),
                                                         params)]
    return _etag_of(principal, filters, cursor, limit, today, counters)


def current_etag_if_matches(token: str | None, role: str, filters: dict, *, cursor: str | None, limit: int,
                            if_none_match: str | None) -> str | None:
    """The 304 fast path: the current ETag when the caller's copy (If-None-Match) is current, else None.

    Same tag as poll_items for the same query (both from _etag_of), read with plain statements on a pooled DBAPI
    connection (account and supervisor subtree, unless accepted less than AUTH_CACHE_SECONDS ago; counters)
    instead of the Session and the ORM. None also
    for anything the normal path must answer (no or bad token, role, hall outside the scope, forged cursor): the
    caller then takes the normal path, which gives exactly the answer it always gave."""
    if not token or not if_none_match:
        return None
    try:
        decode_cursor(cursor)
    except BadRequest:
        return None
    with plain_statements() as reads:
        principal = accepted_principal(reads, token, current_app.config["AUTH_CACHE_SECONDS"])
        if principal is None or not principal.at_least(role):
            return None
        try:
            halls = _etag_halls(principal, filters)
        except NotFound:
            return None
        count = None if halls is None else len(halls)
        params = {} if halls is None else {f"h{i}": code for i, code in enumerate(halls)}
        counters = reads.rows(("rectification.counters", count), lambda: _counters_stmt(count), params)
    etag = _etag_of(principal, filters, cursor, limit, local_date(now()), counters)
    return etag if etag_matches(if_none_match, etag) else None


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or any(same(c, etag) for c in candidates)


def poll_items(principal: Principal, filters: dict, *, cursor: str | None, limit: int,
               if_none_match: str | None) -> tuple[dict | None, str]:
    """(page or None when the client's copy is current, ETag). A 304 costs the token check and one aggregate."""
    today = local_date(now())
    decode_cursor(cursor)  # a forged cursor is a 400 even when nothing changed
    etag = items_etag(principal, filters, cursor, limit, today)
    if etag_matches(if_none_match, etag):
        return None, etag
    conditions = _filtered(principal, filters, today)
    after = decode_cursor(cursor)
    if after is not None:
        conditions.append(RectificationItem.id < after)
    rows = db.session.execute(select(RectificationItem, RectificationList.code)
                              .join(RectificationList, RectificationList.id == RectificationItem.list_id)
                              .where(*conditions).order_by(RectificationItem.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [item_view(i, code, today) for i, code in rows],
            "next_cursor": encode_cursor(rows[-1][0].id) if more else None}, etag


# ---- lists -------------------------------------------------------------------------------------------------
def _list_view(lst: RectificationList, total: int, closed: int) -> dict:
    return {"code": lst.code, "source": lst.source, "hall": lst.hall_code, "period": lst.period,
            "walkthrough_id": lst.walkthrough_id, "status": lst.status, "status_label": LIST_STATUSES[lst.status],
            "items_total": total, "items_closed": closed, "created_at": lst.created_at, "closed_at": lst.closed_at}


def _counts(list_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not list_ids:
        return {}
    closed = func.sum(func.cast(RectificationItem.status.in_(CLOSED_STATUSES), db.Integer))
    rows = db.session.execute(select(RectificationItem.list_id, func.count(), closed)
                              .where(RectificationItem.list_id.in_(list_ids))
                              .group_by(RectificationItem.list_id)).all()
    return {lid: (total, int(done or 0)) for lid, total, done in rows}


def list_lists(principal: Principal, filters: dict, *, cursor: str | None, limit: int) -> dict:
    conditions = []
    if filters.get("hall"):
        principal.check_hall(filters["hall"])
        conditions.append(RectificationList.hall_code == filters["hall"])
    elif principal.halls is not None:
        conditions.append(RectificationList.hall_code.in_(sorted(principal.halls)))
    for field in ("source", "status"):
        if filters.get(field):
            conditions.append(getattr(RectificationList, field) == filters[field])
    after = decode_cursor(cursor)
    if after is not None:
        conditions.append(RectificationList.id < after)
    rows = db.session.execute(select(RectificationList).where(*conditions)
                              .order_by(RectificationList.id.desc()).limit(limit + 1)).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    counts = _counts([r.id for r in rows])
    return {"items": [_list_view(r, *counts.get(r.id, (0, 0))) for r in rows],
            "next_cursor": encode_cursor(rows[-1].id) if more else None}


def get_list(principal: Principal, code: str) -> dict:
    lst = db.session.execute(select(RectificationList).where(RectificationList.code == code)).scalar_one_or_none()
    if lst is None or not principal.sees(lst.hall_code):
        raise NotFound("未找到该整改清单")
    items = db.session.execute(select(RectificationItem).where(RectificationItem.list_id == lst.id)
                               .order_by(RectificationItem.id)).scalars().all()
    today = local_date(now())
    closed = sum(1 for i in items if i.status in CLOSED_STATUSES)
    return {**_list_view(lst, len(items), closed), "items": [item_view(i, lst.code, today) for i in items]}


def list_code_for_walkthrough(walkthrough_id: str) -> str | None:
    return db.session.execute(select(RectificationList.code)
                              .where(RectificationList.walkthrough_id == walkthrough_id)).scalar_one_or_none()


# ---- actions -----------------------------------------------------------------------------------------------
def parse_version(header: str | None) -> int | None:
    if header is None or header.strip() == "":
        return None
    raw = header.strip().removeprefix("W/").strip('"')
    if not raw.isdigit():
        raise BadRequest("If-Match 必须是整改事项的版本号（version），例如 If-Match: 3", code="invalid_if_match")
    return int(raw)


def allowed_actions(principal: Principal, status: str) -> list[str]:
    return [name for name, a in ACTIONS.items() if status in a.sources and principal.at_least(a.role)]


def _check_fields(action: Action, item: RectificationItem, data: dict) -> None:
    errors = {}
    for field in EXTRA_FIELDS:
        value = data.get(field)
        if field in action.required and (value is None or (isinstance(value, str) and not value.strip())):
            errors[field] = [f"请填写{FIELD_LABELS[field]}（{field}）"]
        elif value is not None and field not in action.required + action.optional:
            errors[field] = [f"此操作不使用{FIELD_LABELS[field]}（{field}）"]
    if data.get("answered") and item.source != "rating":
        errors["answered"] = ["只有好差评的整改事项需要反馈评价人"]
    if errors:
        raise ValidationFailed(errors)


@writes
def act(principal: Principal, item_id: int, data: dict, if_match: str | None) -> dict:
    """Take one action on an item: scope, role, version, state, fields; the change and its event commit together."""
    expected = parse_version(if_match)
    item, code = _scoped_item(principal, item_id, lock=True)
    name = data["action"]
    action = ACTIONS[name]
    principal.require(action.role)
    if expected is not None and expected != item.version:
        raise PreconditionFailed(f"该事项已被他人修改（当前版本 {item.version}），请刷新后重试",
                                 code="version_mismatch", current_version=item.version)
    if item.status not in action.sources:
        raise Conflict(f"事项当前状态为「{STATUSES[item.status]}」，不能执行「{action.label}」",
                       code="action_not_allowed", allowed_actions=allowed_actions(principal, item.status))
    _check_fields(action, item, data)

    stamp, today = now(), local_date(now())
    before = item.status
    note = data.get("note")
    if name == "verify":
        item.resolution = data["resolution"]
        if data.get("callback_note"):
            item.callback_at, item.callback_note = stamp, data["callback_note"]
        _set_deadline(item, today, rectify_days(item.resolution))
        note = note or data.get("callback_note")
    elif name in ("deny_appeal", "reopen"):
        # The appeal paused the work, 回头看 restarts it: a fresh 整改 deadline from today.
        _set_deadline(item, today, rectify_days(item.resolution))
    elif name == "submit":
        item.measures, item.result = data["measures"], data["result"]
        if data.get("answered"):
            item.answered_at = stamp
    elif name == "uphold_appeal":
        if item.source == "rating":
            # An upheld appeal takes the 差评 out of every metric.
            db.session.execute(update(Rating).where(Rating.id == int(item.source_id)).values(effective=False))
    item.status = action.to
    item.closed_at = stamp if action.to in CLOSED_STATUSES else None
    _touch(item, stamp)
    _event(item, stamp, principal.name, name, before, note)
    outbox.emit(outbox.item_changed(item, before, name, stamp))  # events out: same transaction
    if action.to not in CLOSED_STATUSES:
        _reopen_list(item.list_id)
    mark_changed(stamp)
    db.session.commit()
    return {**item_view(item, code, today), "events": _events(item.id)}


def _touch(item: RectificationItem, stamp: datetime) -> None:
    item.version += 1
    item.updated_at = stamp


def _event(item: RectificationItem, stamp: datetime, actor: str, action: str, before: str | None,
           note: str | None) -> None:
    db.session.add(ItemEvent(item_id=item.id, at=stamp, actor=actor, action=action, from_status=before,
                             to_status=item.status, note=note))


def _events(item_id: int) -> list[dict]:
    db.session.flush()
    rows = db.session.execute(select(ItemEvent).where(ItemEvent.item_id == item_id)
                              .order_by(ItemEvent.at, ItemEvent.id)).scalars()
    return [event_view(e) for e in rows]


def _reopen_list(list_id: int) -> None:
    db.session.execute(update(RectificationList).where(RectificationList.id == list_id,
                                                       RectificationList.status == "closed")
                       .values(status="open", closed_at=None))


# ---- the rater ---------------------------------------------------------------------------------------------
@writes
def answer_satisfaction(rating_id: int, receipt: str | None, score: int) -> dict:
    """The rater rates how the 差评 was handled; 1–2 sends the item back to 整改 (回头看)."""
    rating = db.session.get(Rating, rating_id)
    if rating is None or not receipt_matches(rating_id, receipt):
        raise NotFound("未找到该评价，请核对评价编号和回执")
    item = item_for_rating(rating_id, lock=True)
    if item is None:
        raise Conflict("该评价没有整改事项", code="no_rectification")
    if item.answered_at is None:
        raise Conflict("整改结果尚未反馈给您，暂不能评价", code="not_answered")
    if item.rater_answered_at is not None and item.rater_answered_at >= item.answered_at:
        if item.rater_satisfaction == score:  # a retry from a flaky network: same answer, same result
            return {"rating_id": rating_id, "score": score, "rectification": rater_view(item)}
        raise Conflict("您已评价过本次整改结果", code="already_answered")
    stamp = now()
    before = item.status
    item.rater_satisfaction, item.rater_answered_at = score, stamp
    _touch(item, stamp)
    _event(item, stamp, "评价人", "answer_satisfaction", before, f"评价人对整改结果的评价：{score} 分")
    if score <= 2 and before in ("awaiting_acceptance", "closed"):
        item.status, item.closed_at = "rectifying", None
        _set_deadline(item, local_date(stamp), rectify_days(item.resolution))
        _event(item, stamp, "评价人", "reopen", before, "评价人对整改结果不满意，回头看")
        outbox.emit(outbox.item_changed(item, before, "reopen", stamp))  # events out: same transaction
        _reopen_list(item.list_id)
    mark_changed(stamp)
    db.session.commit()
    return {"rating_id": rating_id, "score": score, "rectification": rater_view(item)}
