"""我陪群众走流程 from hall tablets: idempotent upserts and batch sync, each record stored or rejected on its own."""
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from models import Finding, Hall, HallItem, Walkthrough, db

from . import outbox
from .auth import Principal
from .database import writes
from .errors import Conflict, NotFound, ServiceError, ValidationFailed
from .inputs import DATE_RANGE_MESSAGE, in_supported_range, unstorable_text_errors
from .security import encrypt, mask_name
from .timeutil import now
from .walkthroughs import WalkthroughRow, get

# Tablet clocks drift; offline records may be old, but a time ahead of the server by more than this is an error.
CLOCK_SKEW = timedelta(minutes=5)

CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"
# A sync that loses a race is run again on fresh state; each loss means another sync committed, so few suffice.
RACE_ATTEMPTS = 5

# Times a tablet can mean: older or later ones are typos, and the oldest possible ones overflow in UTC.
# Half of a UTF-16 pair alone (JSON "\ud800"): Python holds it, but no database driver can encode it.

_W = Walkthrough.__table__
_F = Finding.__table__


@dataclass(frozen=True)
class Invalid:
    """A record that failed schema validation before reaching the service; it is reported, never stored."""

    id: str | None
    errors: dict


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
            finding_errors[str(i)] = {"id": ["同一记录中问题编号重复"]}
        elif batch.owner.get(fid, wid) != wid:
            finding_errors[str(i)] = {"id": ["该问题编号已属于另一条走流程记录"]}
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


def _screen(data: dict) -> None:
    """Refuses what the schema lets through but the database cannot store, before the batch reads or writes it."""
    errors = unstorable_text_errors(data) or {}
    for name in ("started_at", "ended_at"):
        moment = data.get(name)
        # The date as sent (its own offset): converting 0001-01-01T00:00+14:00 to UTC would itself overflow.
        if moment is not None and not in_supported_range(moment.date()):
            errors[name] = [DATE_RANGE_MESSAGE]
    if errors:
        raise ValidationFailed(errors, detail=_first_message(errors))


def _unstorable(exc: Exception) -> bool:
    """A value the database (or its driver) refused, as opposed to a race or an outage."""
    if isinstance(exc, DataError):
        return True
    return isinstance(exc.orig if isinstance(exc, StatementError) else exc, UnicodeError | OverflowError)


def _unstorable_error() -> ValidationFailed:
    errors = {"record": ["该记录含有无法保存的内容，请检查各项内容后重新提交"]}
    return ValidationFailed(errors, detail=errors["record"][0])


def _store(principal: Principal, entries: list) -> list[dict]:
    """Every record is checked before anything is written, so a bad record never reaches the database."""
    refused: dict[int, ServiceError] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, Invalid):
            try:
                _screen(entry)
            except ValidationFailed as exc:
                refused[i] = exc
    records = [e for i, e in enumerate(entries) if not isinstance(e, Invalid) and i not in refused]
    batch = _load_batch(records) if records else None
    results = []
    for i, entry in enumerate(entries):
        if isinstance(entry, Invalid):
            results.append({"id": entry.id, "outcome": REJECTED, "errors": entry.errors})
            continue
        try:
            if i in refused:
                raise refused[i]
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


def _store_each(principal: Principal, entries: list) -> list[dict]:
    """_store_committed, and if the database refuses a value that the checks let through, the batch once more
    record by record (in order, each committed on its own), so that only the record that cannot be stored is
    rejected and the others are kept."""
    try:
        return _store_committed(principal, entries)
    except Exception as exc:
        if not _unstorable(exc):
            raise
        current_app.logger.warning("walkthroughs: the database refused a value (%s); storing record by record",
                                   type(exc).__name__)
    if len(entries) == 1:
        entry = entries[0]
        return [_result(entry.get("id") if isinstance(entry, dict) else entry.id, REJECTED, _unstorable_error())]
    return [result for entry in entries for result in _store_each(principal, [entry])]


@writes
def sync(principal: Principal, entries: list) -> list[dict]:
    """A tablet batch: each record stored or rejected on its own, in order; replaying it changes nothing."""
    limit = current_app.config["SYNC_MAX_BATCH"]
    if len(entries) > limit:
        raise ValidationFailed({"walkthroughs": [f"每批最多同步 {limit} 条走流程记录，请分批提交"]},
                               code="batch_too_large")
    results = _store_each(principal, entries)
    for r in results:
        r.pop("error", None)
    return results


@writes
def upsert(principal: Principal, data: dict) -> tuple[WalkthroughRow, str]:
    """POST /walkthroughs: one record, same rules as a sync; returns (the stored walkthrough, outcome)."""
    (result,) = _store_each(principal, [data])
    if result["outcome"] == REJECTED:
        raise result["error"]  # nothing was written for it
    return get(principal, data["id"]), result["outcome"]
