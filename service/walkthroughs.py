"""我陪群众走流程: scoped reads of walkthroughs, the submit action, the vocabularies and the 体验反馈表.
Storing them (tablet upserts and batch sync) is walkthrough_sync."""
import uuid
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import raiseload

from models import Finding, Hall, ServiceItem, Walkthrough, db

from . import outbox, rectification
from .auth import Principal
from .database import writes
from .errors import NotFound, ValidationFailed
from .pagination import Page, keyset_page
from .rows import Row
from .timeutil import end_of_day, now, start_of_day
from .vocab import FINDING_CATEGORIES, SEVERITIES, STEPS, WALKTHROUGH_MODES, WALKTHROUGH_STATUSES


class Entry(NamedTuple):
    code: str
    label: str


class Person(NamedTuple):
    name: str | None
    title: str | None = None


def vocabularies() -> dict[str, list[Entry]]:
    def entries(vocab: dict) -> list[Entry]:
        return [Entry(code, label) for code, label in vocab.items()]

    return {"modes": entries(WALKTHROUGH_MODES), "steps": entries(STEPS), "categories": entries(FINDING_CATEGORIES),
            "severities": entries(SEVERITIES), "statuses": entries(WALKTHROUGH_STATUSES)}


# ---- what the API renders (api/schemas/walkthroughs.py owns the fields; these carry the computed values) -------
@dataclass(frozen=True)
class FindingRow(Row):
    row: Finding

    @property
    def step_label(self) -> str:
        return STEPS[self.row.step]

    @property
    def category_label(self) -> str:
        return FINDING_CATEGORIES[self.row.category]

    @property
    def severity_label(self) -> str:
        return SEVERITIES[self.row.severity]


@dataclass(frozen=True)
class WalkthroughRow(Row):
    """A walkthrough; with `findings_count` alone in lists (its findings are not loaded there)."""

    row: Walkthrough
    findings_count: int

    @property
    def mode_label(self) -> str:
        return WALKTHROUGH_MODES[self.row.mode]

    @property
    def status_label(self) -> str:
        return WALKTHROUGH_STATUSES[self.row.status]

    @property
    def observer(self) -> Person:
        return Person(self.row.observer_name, self.row.observer_title)

    @property
    def citizen(self) -> Person | None:
        # Only the mask is ever answered (the name is stored encrypted).
        return Person(self.row.citizen_name_masked) if self.row.citizen_name_masked else None

    @property
    def findings(self) -> list[FindingRow]:
        return [FindingRow(f) for f in self.row.findings]


def _with_findings(walkthrough: Walkthrough) -> WalkthroughRow:
    return WalkthroughRow(walkthrough, len(walkthrough.findings))


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


def get(principal: Principal, walkthrough_id: str) -> WalkthroughRow:
    return _with_findings(_find(principal, walkthrough_id))


@writes
def submit(principal: Principal, walkthrough_id: str) -> WalkthroughRow:
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
    return _with_findings(walkthrough)


def list_for(principal: Principal, filters: dict, *, cursor: str | None, limit: int) -> Page:
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
    # The internal seq is the keyset: the client UUIDs carry no order.
    rows, next_cursor = keyset_page(stmt, Walkthrough.seq, cursor=cursor, limit=limit)
    counts = dict(db.session.execute(
        select(Finding.walkthrough_id, func.count()).where(Finding.walkthrough_id.in_([w.id for w in rows]))
        .group_by(Finding.walkthrough_id)).all()) if rows else {}
    return Page([WalkthroughRow(w, counts.get(w.id, 0)) for w in rows], next_cursor)


# ---- 体验反馈表 ----------------------------------------------------------------------------------------------
# A document of its own (JSON and a printable page from the same structure): the walkthrough's facts beside
# findings grouped by step in procedure order, minutes summed per step and in total, and the list code.
@dataclass(frozen=True)
class StepGroup:
    step: str
    label: str
    findings: list[FindingRow]

    @property
    def wait_minutes(self) -> int:
        return sum(f.wait_minutes or 0 for f in self.findings)  # a missing value counts 0

    @property
    def handle_minutes(self) -> int:
        return sum(f.handle_minutes or 0 for f in self.findings)


@dataclass(frozen=True)
class Totals:
    findings: int
    needs_rectification: int
    wait_minutes: int
    handle_minutes: int
    by_severity: dict[str, int]


@dataclass(frozen=True)
class FeedbackForm(Row):
    """Everything else (status, observer, citizen, times, summary) is the walkthrough's own."""

    row: WalkthroughRow
    list_code: str | None
    hall: Hall
    item: ServiceItem
    steps: list[StepGroup]

    @property
    def walkthrough_id(self) -> str:
        return self.row.id

    @property
    def mode(self) -> Entry:
        return Entry(self.row.mode, self.row.mode_label)

    @property
    def duration_minutes(self) -> int | None:
        if self.row.ended_at is None:
            return None
        return int((self.row.ended_at - self.row.started_at).total_seconds() // 60)

    @property
    def totals(self) -> Totals:
        findings = [f for s in self.steps for f in s.findings]
        by_severity = dict.fromkeys(SEVERITIES, 0)
        for f in findings:
            by_severity[f.severity] += 1
        return Totals(len(findings), sum(1 for f in findings if f.needs_rectification),
                      sum(s.wait_minutes for s in self.steps), sum(s.handle_minutes for s in self.steps), by_severity)

    @property
    def suggestions(self) -> list[FindingRow]:
        return [f for s in self.steps for f in s.findings if f.suggestion]


def feedback(principal: Principal, walkthrough_id: str) -> FeedbackForm:
    """The feedback form of one walkthrough: facts, findings grouped by step, minutes, and its list code."""
    w = _with_findings(_find(principal, walkthrough_id))
    by_step: dict[str, list[FindingRow]] = {}
    for f in w.findings:
        by_step.setdefault(f.step, []).append(f)
    steps = [StepGroup(code, label, by_step[code])  # procedure order, not the order findings were typed in
             for code, label in STEPS.items() if code in by_step]
    return FeedbackForm(w, rectification.list_code_for_walkthrough(w.id), db.session.get(Hall, w.hall_code),
                        db.session.get(ServiceItem, w.item_code), steps)
