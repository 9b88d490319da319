"""The transactional outbox: every reported change writes its event row in the change's own transaction.

`emit` inserts rows built here, either through the Session or through a PlainStatements write transaction (the
rating intake); the set-based emitters insert the events of a job's rows with one INSERT … SELECT. Every event has a
unique key, so a job run twice (or by two schedulers) never writes a second event for the same change.

No personal data ever goes into an event: no name, phone, receipt, rating token, and no free text at all (comments,
notes, measures, results, finding descriptions may name people), only codes, ids, scores, statuses and dates."""
from datetime import datetime

from sqlalchemy import String, bindparam, case, cast, func, literal, select

from models import OutboxEvent, Rating, RectificationItem, RectificationList, db

from .sqlutil import PlainStatements, dialect_name, insert
from .timeutil import iso
from .vocab import LEVELS, is_bad

TYPES = {
    "rating.created": "新评价",
    "rating.bad": "差评",
    "rating.followed_up": "追评",
    "rectification.created": "整改事项生成（转办）",
    "rectification.status_changed": "整改事项状态变化",
    "rectification.due_soon": "临期督办（期限前一个工作日）",
    "rectification.overdue": "整改超期",
    "rectification.closed": "整改销号",
    "list.closed": "整改清单销号",
    "walkthrough.submitted": "走流程提交",
}
COLUMNS = ["type", "key", "subject", "hall_code", "occurred_at", "data"]
# An item born of a 差评 is delivered in order with its rating (the provincial platform gets 评价 before 整改状态).
CLOSED = ("closed", "dismissed")


def rating_subject(rating_id) -> str:
    return f"rating:{rating_id}"


def rating_followed_up(rating, tags: list[str], at: datetime) -> list[dict]:
    """rating.followed_up: which rating, when, with which tags; the comment is free text and never leaves."""
    data = {"rating_id": rating.id, "hall": rating.hall_code, "score": rating.score, "tags": sorted(tags),
            "followed_up_at": iso(at)}
    return [_event("rating.followed_up", str(rating.id), rating_subject(rating.id), rating.hall_code, at, data)]


def item_subject(source: str, source_id: str, item_id: int) -> str:
    return rating_subject(source_id) if source == "rating" else f"item:{item_id}"


def _event(type_: str, key: str, subject: str, hall: str | None, at: datetime, data: dict) -> dict:
    return {"type": type_, "key": f"{type_}:{key}", "subject": subject, "hall_code": hall, "occurred_at": at,
            "data": data}


def _insert():
    return insert(OutboxEvent.__table__).on_conflict_do_nothing()


def _insert_rows(count: int):
    """One statement for the `count` events of one change (a rating has one or two): a multi-row INSERT is one
    round trip, where an executemany is a pipeline of its own on psycopg (its setup cost twice the INSERT's)."""
    table = OutboxEvent.__table__
    return insert(table).values([{name: bindparam(f"{name}{i}", type_=table.c[name].type) for name in COLUMNS}
                                 for i in range(count)]).on_conflict_do_nothing()


def emit(events: list[dict], sql: PlainStatements | None = None) -> None:
    """Write these events in the caller's transaction: the Session's, or `sql`'s write transaction."""
    if not events:
        return
    if sql is None:
        db.session.execute(_insert(), events)
    else:
        sql.rows(_insert_rows, {f"{name}{i}": event[name] for i, event in enumerate(events) for name in COLUMNS},
                 len(events))


# ---- events of one change ---------------------------------------------------------------------------------
def rating_events(rating_id: int, values: dict, tag_codes: list[str]) -> list[dict]:
    """rating.created, and rating.bad for a 差评, from the row the intake inserts (no comment, name or phone)."""
    score = values["score"]
    data = {"rating_id": rating_id, "case_id": values.get("case_id"), "hall": values["hall_code"],
            "item": values.get("item_code"), "window": values.get("window_code"), "staff_no": values.get("staff_no"),
            "score": score, "level": LEVELS[score][0], "channel": values["channel"], "tags": sorted(tag_codes),
            "is_default": bool(values.get("is_default")), "rated_at": iso(values["created_at"])}
    subject, at = rating_subject(rating_id), values["created_at"]
    events = [_event("rating.created", str(rating_id), subject, values["hall_code"], at, data)]
    if is_bad(score):
        events.append(_event("rating.bad", str(rating_id), subject, values["hall_code"], at, data))
    return events


def item_changed(item: RectificationItem, before: str | None, action: str, stamp: datetime) -> list[dict]:
    """rectification.status_changed for an action on an item (and rectification.closed when it ends the item).

    Keyed by the item's version, which every change increments: one event per change."""
    data = {"item_id": item.id, "list_id": item.list_id, "source": item.source, "source_id": item.source_id,
            "hall": item.hall_code, "item": item.item_code, "window": item.window_code, "staff_no": item.staff_no,
            "action": action, "from": before, "status": item.status, "resolution": item.resolution,
            "due_date": item.due_date.isoformat() if item.due_date else None, "version": item.version,
            "rater_satisfaction": item.rater_satisfaction}
    subject, key = item_subject(item.source, item.source_id, item.id), f"{item.id}:v{item.version}"
    events = [_event("rectification.status_changed", key, subject, item.hall_code, stamp, data)]
    if item.status in CLOSED and before not in CLOSED:
        events.append(_event("rectification.closed", key, subject, item.hall_code, stamp, data))
    return events


def walkthrough_submitted(walkthrough_id: str, hall: str, item: str | None, mode: str, findings: list,
                          at: datetime) -> list[dict]:
    """A walkthrough is submitted once and for all, so its id is the key. `findings`: dicts or Finding rows."""
    def needs(f):
        return bool(f["needs_rectification"] if isinstance(f, dict) else f.needs_rectification)

    data = {"walkthrough_id": walkthrough_id, "hall": hall, "item": item, "mode": mode,
            "findings": len(findings), "needs_rectification": sum(1 for f in findings if needs(f)),
            "submitted_at": iso(at)}
    return [_event("walkthrough.submitted", walkthrough_id, f"walkthrough:{walkthrough_id}", hall, at, data)]


# ---- set-based: the events of the rows a job run wrote -------------------------------------------------------
def _json_object(pairs: dict):
    """A JSON object built in SQL from column expressions (booleans via _json_bool)."""
    args = [a for k, v in pairs.items() for a in (literal(k), v)]
    return (func.json_build_object if dialect_name() == "postgresql" else func.json_object)(*args)


def _json_bool(value: bool):
    return func.json("true" if value else "false") if dialect_name() == "sqlite" else literal(value)


def _json_list_empty():
    return func.json("[]") if dialect_name() == "sqlite" else func.json_build_array()


def _from_select(rows) -> int:
    stmt = insert(OutboxEvent.__table__).from_select(COLUMNS, rows).on_conflict_do_nothing()
    return len(db.session.execute(stmt.returning(OutboxEvent.id)).all())


def _stamp(value: datetime):
    return literal(value, OutboxEvent.occurred_at.type)


def _item_subject_sql():
    item = RectificationItem
    return case((item.source == "rating", literal("rating:") + item.source_id),
                else_=literal("item:") + cast(item.id, String))


def _item_data(item, **extra):
    return _json_object({"item_id": item.id, "list_id": item.list_id, "source": item.source,
                         "source_id": item.source_id, "hall": item.hall_code, "item": item.item_code,
                         "window": item.window_code, "staff_no": item.staff_no, "status": item.status,
                         "due_date": cast(item.due_date, String), **extra})


def items_created(stamp: datetime) -> int:
    """rectification.created (转办) for every item a collecting job inserted at `stamp`."""
    item = RectificationItem
    return _from_select(select(
        literal("rectification.created"), literal("rectification.created:") + cast(item.id, String),
        _item_subject_sql(), item.hall_code, _stamp(stamp), _item_data(item),
    ).where(item.created_at == stamp))


def items_overdue(stamp: datetime) -> int:
    """rectification.overdue for the items flag_overdue flagged at `stamp`; one per item and deadline."""
    item = RectificationItem
    return _from_select(select(
        literal("rectification.overdue"),
        literal("rectification.overdue:") + cast(item.id, String) + literal(":") + cast(item.due_date, String),
        _item_subject_sql(), item.hall_code, _stamp(stamp), _item_data(item),
    ).where(item.overdue_flagged_at == stamp))


def items_due_soon(condition, stamp: datetime) -> int:
    """rectification.due_soon for the items matching `condition`; one per item and deadline (the key decides)."""
    item = RectificationItem
    return _from_select(select(
        literal("rectification.due_soon"),
        literal("rectification.due_soon:") + cast(item.id, String) + literal(":") + cast(item.due_date, String),
        _item_subject_sql(), item.hall_code, _stamp(stamp), _item_data(item),
    ).where(condition))


def lists_closed(stamp: datetime) -> int:
    """list.closed for the lists closed at `stamp` (a list reopened and closed again reports each closing)."""
    lst = RectificationList
    return _from_select(select(
        literal("list.closed"), literal("list.closed:") + cast(lst.id, String) + literal(f":{stamp.isoformat()}"),
        literal("list:") + cast(lst.id, String), lst.hall_code, _stamp(stamp),
        _json_object({"list_id": lst.id, "code": lst.code, "source": lst.source, "hall": lst.hall_code,
                      "period": lst.period, "walkthrough_id": lst.walkthrough_id}),
    ).where(lst.status == "closed", lst.closed_at == stamp))


def default_ratings_created(stamp: datetime) -> int:
    """rating.created for the default ratings (基本满意, is_default) a job gave at `stamp`."""
    r = Rating
    level = case({s: name for s, (name, _) in LEVELS.items()}, value=r.score)
    return _from_select(select(
        literal("rating.created"), literal("rating.created:") + cast(r.id, String),
        literal("rating:") + cast(r.id, String), r.hall_code, _stamp(stamp),
        _json_object({"rating_id": r.id, "case_id": r.case_id, "hall": r.hall_code, "item": r.item_code,
                      "window": r.window_code, "staff_no": r.staff_no, "score": r.score, "level": level,
                      "channel": r.channel, "tags": _json_list_empty(), "is_default": _json_bool(True),
                      "rated_at": literal(iso(stamp))}),
    ).where(r.is_default.is_(True), r.created_at == stamp))
