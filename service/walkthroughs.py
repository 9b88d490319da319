"""我陪群众走流程: walkthroughs from hall tablets — idempotent upserts, batch sync, reads and the 体验反馈表."""
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import raiseload

from models import Finding, Hall, HallItem, ServiceItem, Walkthrough, db

from . import outbox, rectification
from .auth import Principal
from .database import writes
from .errors import Conflict, NotFound, ServiceError, ValidationFailed
from .pagination import decode_cursor, encode_cursor
from .security import encrypt, mask_name
from .timeutil import end_of_day, now, start_of_day
from .vocab import FINDING_CATEGORIES, SEVERITIES, STEPS, WALKTHROUGH_MODES, WALKTHROUGH_STATUSES

# Tablet clocks drift; offline records may be old, but a time ahead of the server by more than this is an error.
CLOCK_SKEW = timedelta(minutes=5)

CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"
# A sync that loses a race is run again on fresh state; each loss means another sync committed, so few suffice.
RACE_ATTEMPTS = 5

_W = Walkthrough.__table__
_F = Finding.__table__


@dataclass(frozen=True)
class Invalid:
    """A record that failed schema validation before reaching the service; it is reported, never stored."""

    id: str | None
    errors: dict


def vocabularies() -> dict:
    def entries(vocab: dict) -> list[dict]:
        return [{"code": code, "label": label} for code, label in vocab.items()]

    return {"modes": entries(WALKTHROUGH_MODES), "steps": entries(STEPS), "categories": entries(FINDING_CATEGORIES),
            "severities": entries(SEVERITIES), "statuses": entries(WALKTHROUGH_STATUSES)}


# ---- content identity --------------------------------------------------------------------------------------
def _canonical(data: dict) -> dict:
    """What a walkthrough says, without its status: the same record replayed compares equal."""

    def moment(value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(UTC).isoformat()

    citizen = data.get("citizen") or {}
    observer = data["observer"]
    return {
        "hall": data["hall"], "item": data["item"], "mode": data["mode"],
        "observer": [observer["name"].strip(), observer.get("title") or None],
        "citizen": citizen.get("name") or None,
        "started_at": moment(data["started_at"]), "ended_at": moment(data.get("ended_at")),
        "summary": data.get("summary") or None,
        "findings": [[f["id"], f["step"], f["category"], f["description"], f["severity"], f.get("suggestion") or None,
                      bool(f["needs_rectification"]), f.get("wait_minutes"), f.get("handle_minutes")]
                     for f in data["findings"]],
    }


def content_hash(data: dict) -> str:
    # Keyed (HMAC), because the canonical form holds the citizen's name: a plain hash could be brute-forced.
    canonical = json.dumps(_canonical(data), ensure_ascii=False, separators=(",", ":"))
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


# ---- planning: decide each record's outcome against the state the batch has reached so far -----------------
@dataclass
class _State:
    hall: str
    status: str
    content_hash: str
    finding_ids: tuple[str, ...]
    in_database: bool


@dataclass
class _Batch:
    """Everything the records of one batch are checked against, read with a handful of set-based queries."""

    stored: dict[str, _State]
    owner: dict[str, str]  # finding id → walkthrough id
    halls: set[str]
    offered: set[tuple[str, str]]
    moment: datetime
    writes: dict[str, tuple[dict, str]] = field(default_factory=dict)  # id → (final record, content hash)


def _load_batch(records: list[dict]) -> _Batch:
    ids = sorted({r["id"] for r in records})
    finding_ids = [f["id"] for r in records for f in r["findings"]]
    stored: dict[str, _State] = {}
    # Locked in id order (PostgreSQL), so two syncs of overlapping batches queue instead of deadlocking;
    # on SQLite the POST already holds the write lock (BEGIN IMMEDIATE).
    rows = db.session.execute(select(_W.c.id, _W.c.hall_code, _W.c.status, _W.c.content_hash)
                              .where(_W.c.id.in_(ids)).order_by(_W.c.id).with_for_update()).all()
    for row in rows:
        stored[row.id] = _State(row.hall_code, row.status, row.content_hash, (), True)
    owner: dict[str, str] = {}
    if stored or finding_ids:
        owned = db.session.execute(select(_F.c.id, _F.c.walkthrough_id).where(
            _F.c.id.in_(finding_ids) | _F.c.walkthrough_id.in_(list(stored)))).all()
        by_walkthrough: dict[str, list[str]] = {}
        for fid, wid in owned:
            owner[fid] = wid
            by_walkthrough.setdefault(wid, []).append(fid)
        for wid, state in stored.items():
            state.finding_ids = tuple(by_walkthrough.get(wid, ()))
    hall_codes = sorted({r["hall"] for r in records} | {s.hall for s in stored.values()})
    halls = set(db.session.execute(select(Hall.code).where(Hall.code.in_(hall_codes))).scalars())
    offered = {(h, i) for h, i in db.session.execute(
        select(HallItem.hall_code, HallItem.item_code).where(HallItem.hall_code.in_(hall_codes))).all()}
    return _Batch(stored, owner, halls, offered, now())


def _check(principal: Principal, data: dict, batch: _Batch) -> None:
    wid, hall = data["id"], data["hall"]
    prior = batch.stored.get(wid)
    if prior is not None and not principal.sees(prior.hall):
        # Someone else's record looks exactly like an unknown one; its id simply cannot be reused here.
        raise NotFound("未找到该走流程记录", code="not_found", errors={"id": ["未找到该走流程记录"]})
    if not principal.sees(hall) or hall not in batch.halls:
        raise NotFound("未找到该服务大厅", code="not_found", errors={"hall": ["未找到该服务大厅"]})
    errors: dict = {}
    if (hall, data["item"]) not in batch.offered:
        errors["item"] = [f"该大厅未提供此事项：{data['item']}"]
    limit = batch.moment + CLOCK_SKEW
    started, ended = data["started_at"], data.get("ended_at")
    if started > limit:
        errors["started_at"] = ["开始时间不能晚于当前时间"]
    if ended is not None:
        if ended > limit:
            errors["ended_at"] = ["结束时间不能晚于当前时间"]
        elif ended < started:
            errors["ended_at"] = ["结束时间不能早于开始时间"]
    finding_errors: dict = {}
    seen: set[str] = set()
    for i, finding in enumerate(data["findings"]):
        fid = finding["id"]
        if fid in seen:
            finding_errors[str(i)] = {"id": ["同一记录中问题 id 重复"]}
        elif batch.owner.get(fid, wid) != wid:
            finding_errors[str(i)] = {"id": ["该问题 id 已属于另一条走流程记录"]}
        seen.add(fid)
    if finding_errors:
        errors["findings"] = finding_errors
    if errors:
        raise ValidationFailed(errors, detail=_first_message(errors))


def _first_message(errors) -> str:
    while isinstance(errors, dict):
        errors = next(iter(errors.values()))
    return errors[0]


def _plan(principal: Principal, data: dict, batch: _Batch) -> str:
    """The record's outcome; the batch state moves on as if the record had been stored (later duplicates see it)."""
    _check(principal, data, batch)
    wid = data["id"]
    digest = content_hash(data)
    prior = batch.stored.get(wid)
    if prior is not None:
        if prior.status == "submitted":
            if digest == prior.content_hash:
                return UNCHANGED  # a replay, whatever status the tablet still has for it: never un-submitted
            raise Conflict("该走流程记录已提交，不能再修改", code="walkthrough_submitted",
                           errors={"id": ["该走流程记录已提交，不能再修改"]})
        if digest == prior.content_hash and data["status"] == "draft":
            return UNCHANGED
    for fid in prior.finding_ids if prior else ():
        batch.owner.pop(fid, None)
    fids = tuple(f["id"] for f in data["findings"])
    for fid in fids:
        batch.owner[fid] = wid
    batch.stored[wid] = _State(data["hall"], data["status"], digest, fids, prior.in_database if prior else False)
    batch.writes[wid] = (data, digest)
    return UPDATED if prior else CREATED


def _write(principal: Principal, batch: _Batch) -> None:
    """The batch's net changes in a few executemany statements, whatever the number of records."""
    inserts, updates, findings = [], [], []
    for wid, (data, digest) in batch.writes.items():
        citizen_name = (data.get("citizen") or {}).get("name") or None
        row = {
            "hall_code": data["hall"], "item_code": data["item"], "mode": data["mode"],
            "observer_name": data["observer"]["name"].strip(), "observer_title": data["observer"].get("title") or None,
            "citizen_name_enc": encrypt(citizen_name), "citizen_name_masked": mask_name(citizen_name),
            "started_at": data["started_at"], "ended_at": data.get("ended_at"), "summary": data.get("summary") or None,
            "status": data["status"], "submitted_at": batch.moment if data["status"] == "submitted" else None,
            "content_hash": digest, "updated_at": batch.moment,
        }
        if batch.stored[wid].in_database:
            updates.append({**row, "b_id": wid})
        else:
            inserts.append({**row, "id": wid, "created_by": principal.account_id, "created_at": batch.moment})
        findings += [{"id": f["id"], "walkthrough_id": wid, "position": i, "step": f["step"],
                      "category": f["category"], "description": f["description"], "severity": f["severity"],
                      "suggestion": f.get("suggestion") or None, "needs_rectification": bool(f["needs_rectification"]),
                      "wait_minutes": f.get("wait_minutes"), "handle_minutes": f.get("handle_minutes")}
                     for i, f in enumerate(data["findings"])]
    # New keys go in sorted order, as the existing rows were locked: two syncs that share ids then wait for each
    # other on the first shared key (and the loser retries) instead of deadlocking on PostgreSQL.
    if inserts:
        db.session.execute(insert(_W), sorted(inserts, key=lambda r: r["id"]))
    if updates:
        db.session.execute(update(_W).where(_W.c.id == bindparam("b_id")), updates)
        db.session.execute(delete(_F).where(_F.c.walkthrough_id.in_([u["b_id"] for u in updates])))
    if findings:
        db.session.execute(insert(_F), sorted(findings, key=lambda r: r["id"]))
    outbox.emit([event for wid, (data, _) in batch.writes.items() if data["status"] == "submitted"  # events out
                 for event in outbox.walkthrough_submitted(wid, data["hall"], data["item"], data["mode"],
                                                           data["findings"], batch.moment)])


def _result(wid: str | None, outcome: str, error: ServiceError | None = None) -> dict:
    if error is None:
        return {"id": wid, "outcome": outcome}
    return {"id": wid, "outcome": REJECTED, "errors": error.errors or {"id": [error.detail]}, "error": error}


def _store(principal: Principal, entries: list) -> list[dict]:
    """Every record is checked before anything is written, so a bad record never reaches the database."""
    records = [e for e in entries if not isinstance(e, Invalid)]
    batch = _load_batch(records) if records else None
    results = []
    for entry in entries:
        if isinstance(entry, Invalid):
            results.append({"id": entry.id, "outcome": REJECTED, "errors": entry.errors})
            continue
        try:
            results.append(_result(entry["id"], _plan(principal, entry, batch)))
        except ServiceError as exc:
            results.append(_result(entry["id"], REJECTED, exc))
    if batch is not None and batch.writes:
        _write(principal, batch)
    return results


def _lost_race(exc: DBAPIError) -> bool:
    if isinstance(exc, IntegrityError):
        return True  # a unique key: another transaction stored the same id (it has committed by now)
    return getattr(exc.orig, "sqlstate", None) in ("40P01", "40001")  # PostgreSQL deadlock / serialization


def _store_committed(principal: Principal, entries: list) -> list[dict]:
    """Store and commit. A lost race against another sync of the same ids rolls the whole transaction back (its
    locks with it, so two retrying syncs cannot keep each other waiting) and runs the batch again on fresh state,
    where those records come out unchanged, updated or rejected: the good records of the batch are never lost."""
    for attempt in range(1, RACE_ATTEMPTS + 1):
        try:
            results = _store(principal, entries)
            db.session.commit()
            return results
        except DBAPIError as exc:
            db.session.rollback()
            if attempt == RACE_ATTEMPTS or not _lost_race(exc):
                raise
            current_app.logger.info("walkthroughs: lost a race with another sync (%s), retrying", type(exc).__name__)
        except Exception:
            db.session.rollback()
            raise
    raise AssertionError("unreachable")


@writes
def sync(principal: Principal, entries: list) -> list[dict]:
    """A tablet batch: each record stored or rejected on its own, in order; replaying it changes nothing."""
    limit = current_app.config["SYNC_MAX_BATCH"]
    if len(entries) > limit:
        raise ValidationFailed({"walkthroughs": [f"每批最多同步 {limit} 条走流程记录，请分批提交"]},
                               code="batch_too_large")
    results = _store_committed(principal, entries)
    for r in results:
        r.pop("error", None)
    return results


@writes
def upsert(principal: Principal, data: dict) -> tuple[dict, str]:
    """POST /walkthroughs: one record, same rules as a sync; returns (view, outcome)."""
    (result,) = _store_committed(principal, [data])
    if result["outcome"] == REJECTED:
        raise result["error"]  # nothing was written for it
    return get(principal, data["id"]), result["outcome"]


# ---- single-record reads and the submit action -------------------------------------------------------------
def _find(principal: Principal, walkthrough_id: str, *, lock: bool = False) -> Walkthrough:
    try:
        canonical = str(uuid.UUID(walkthrough_id))
    except ValueError:
        raise NotFound("未找到该走流程记录") from None
    stmt = select(Walkthrough).where(Walkthrough.id == canonical)
    if lock:
        stmt = stmt.with_for_update()
    walkthrough = db.session.execute(stmt).scalar_one_or_none()
    if walkthrough is None or not principal.sees(walkthrough.hall_code):
        raise NotFound("未找到该走流程记录")
    return walkthrough


def _finding_view(f: Finding) -> dict:
    return {"id": f.id, "step": f.step, "step_label": STEPS[f.step], "category": f.category,
            "category_label": FINDING_CATEGORIES[f.category], "description": f.description, "severity": f.severity,
            "severity_label": SEVERITIES[f.severity], "suggestion": f.suggestion,
            "needs_rectification": f.needs_rectification, "wait_minutes": f.wait_minutes,
            "handle_minutes": f.handle_minutes}


def _summary_view(w: Walkthrough, findings_count: int) -> dict:
    return {
        "id": w.id, "hall": w.hall_code, "item": w.item_code, "mode": w.mode, "mode_label": WALKTHROUGH_MODES[w.mode],
        "observer": {"name": w.observer_name, "title": w.observer_title},
        "citizen": {"name": w.citizen_name_masked} if w.citizen_name_masked else None,
        "started_at": w.started_at, "ended_at": w.ended_at, "summary": w.summary, "status": w.status,
        "status_label": WALKTHROUGH_STATUSES[w.status], "submitted_at": w.submitted_at,
        "findings_count": findings_count, "created_at": w.created_at, "updated_at": w.updated_at,
    }


def view(w: Walkthrough) -> dict:
    return {**_summary_view(w, len(w.findings)), "findings": [_finding_view(f) for f in w.findings]}


def get(principal: Principal, walkthrough_id: str) -> dict:
    return view(_find(principal, walkthrough_id))


@writes
def submit(principal: Principal, walkthrough_id: str) -> dict:
    """Draft → submitted. Submitting again answers the same record: a tablet's retry is harmless."""
    try:
        walkthrough = _find(principal, walkthrough_id, lock=True)
        if walkthrough.status != "submitted":
            walkthrough.status = "submitted"
            walkthrough.submitted_at = now()
            outbox.emit(outbox.walkthrough_submitted(  # events out: same transaction
                walkthrough.id, walkthrough.hall_code, walkthrough.item_code, walkthrough.mode, walkthrough.findings,
                walkthrough.submitted_at))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return view(walkthrough)


def list_for(principal: Principal, filters: dict, *, cursor: str | None, limit: int) -> tuple[list[dict], str | None]:
    stmt = select(Walkthrough).options(raiseload(Walkthrough.findings))
    hall = filters.get("hall")
    if hall:
        principal.check_hall(hall)
        stmt = stmt.where(Walkthrough.hall_code == hall)
    elif principal.halls is not None:
        stmt = stmt.where(Walkthrough.hall_code.in_(principal.halls))
    if filters.get("status"):
        stmt = stmt.where(Walkthrough.status == filters["status"])
    start: date | None = filters.get("from")
    end: date | None = filters.get("to")
    if start and end and start > end:
        raise ValidationFailed({"from": ["开始日期不能晚于结束日期"]})
    if start:
        stmt = stmt.where(Walkthrough.started_at >= start_of_day(start))
    if end:
        stmt = stmt.where(Walkthrough.started_at <= end_of_day(end))
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(Walkthrough.seq < after)
    # The internal seq is the keyset: the client UUIDs carry no order.
    rows = db.session.execute(stmt.order_by(Walkthrough.seq.desc()).limit(limit + 1)).scalars().all()
    more = len(rows) > limit
    rows = rows[:limit]
    counts = dict(db.session.execute(
        select(Finding.walkthrough_id, func.count()).where(Finding.walkthrough_id.in_([w.id for w in rows]))
        .group_by(Finding.walkthrough_id)).all()) if rows else {}
    return [_summary_view(w, counts.get(w.id, 0)) for w in rows], (encode_cursor(rows[-1].seq) if more else None)


# ---- 体验反馈表 ----------------------------------------------------------------------------------------------
def feedback(principal: Principal, walkthrough_id: str) -> dict:
    """The feedback form of one walkthrough: facts, findings grouped by step, minutes, and its list code."""
    w = _find(principal, walkthrough_id)
    hall = db.session.get(Hall, w.hall_code)
    item = db.session.get(ServiceItem, w.item_code)
    by_step: dict[str, list[Finding]] = {}
    for f in w.findings:
        by_step.setdefault(f.step, []).append(f)
    steps = []
    for code, label in STEPS.items():  # procedure order, not the order findings were typed in
        found = by_step.get(code)
        if not found:
            continue
        steps.append({
            "step": code, "label": label,
            "wait_minutes": sum(f.wait_minutes or 0 for f in found),
            "handle_minutes": sum(f.handle_minutes or 0 for f in found),
            "findings": [{k: v for k, v in _finding_view(f).items() if k not in ("step", "step_label")}
                         for f in found],
        })
    by_severity = {code: 0 for code in SEVERITIES}
    for f in w.findings:
        by_severity[f.severity] += 1
    duration = None
    if w.ended_at is not None:
        duration = int((w.ended_at - w.started_at).total_seconds() // 60)
    return {
        "walkthrough_id": w.id,
        "list_code": rectification.list_code_for_walkthrough(w.id),
        "status": w.status, "status_label": WALKTHROUGH_STATUSES[w.status],
        "hall": {"code": hall.code, "name": hall.name},
        "item": {"code": item.code, "name": item.name, "department": item.department},
        "mode": {"code": w.mode, "label": WALKTHROUGH_MODES[w.mode]},
        "observer": {"name": w.observer_name, "title": w.observer_title},
        "citizen": {"name": w.citizen_name_masked} if w.citizen_name_masked else None,
        "started_at": w.started_at, "ended_at": w.ended_at, "submitted_at": w.submitted_at,
        "duration_minutes": duration, "summary": w.summary,
        "totals": {
            "findings": len(w.findings),
            "needs_rectification": sum(1 for f in w.findings if f.needs_rectification),
            "wait_minutes": sum(s["wait_minutes"] for s in steps),
            "handle_minutes": sum(s["handle_minutes"] for s in steps),
            "by_severity": by_severity,
        },
        "steps": steps,
        "suggestions": [{"finding_id": f.id, "step": f.step, "step_label": STEPS[f.step], "text": f.suggestion}
                        for s in steps for f in by_step[s["step"]] if f.suggestion],
    }
