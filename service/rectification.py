"""一体验一反馈一清单: the vocabulary of rectification items and lists, deadlines, item lookups and what every write
to an item does (version, event, list reopened, hall counter). The state machine, the lists, polling and the rater's
answer build on it in rectification_actions, _lists, _polling and _rater."""
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import and_, literal, or_, select, update

from models import ItemEvent, RectificationChange, RectificationItem, RectificationList, db

from . import workdays
from .auth import Principal
from .errors import NotFound
from .rows import Row
from .sqlutil import insert
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
    "uphold_appeal": Action("申诉成立", ("appealed",), "dismissed", "supervisor", ("note",)),
    "deny_appeal": Action("驳回申诉", ("appealed",), "rectifying", "supervisor", ("note",)),
    "submit": Action("提交整改结果", ("rectifying",), "awaiting_acceptance", "staff", ("measures", "result"),
                     ("note", "answered", "unreachable")),
    "accept": Action("验收销号", ("awaiting_acceptance",), "closed", "supervisor"),
    "reject": Action("验收不通过", ("awaiting_acceptance",), "rectifying", "supervisor", ("note",)),
    "reopen": Action("回头看", ("closed",), "rectifying", "supervisor", ("note",)),
}


# ---- what the API renders (api/schemas/rectification.py owns the fields; these carry the computed values) ------
@dataclass(frozen=True)
class ItemRow(Row):
    """An item as answered: its list's code, and the day `overdue` is judged on (one day for a whole page, the day
    its ETag was computed for); `events` only for a single item."""

    row: RectificationItem
    list_code: str
    today: date
    events: list[ItemEvent] | None = None

    @property
    def status_label(self) -> str:
        return STATUSES[self.row.status]

    @property
    def state_family(self) -> str:
        return "closed" if self.row.status in CLOSED_STATUSES else "open"

    @property
    def overdue(self) -> bool:
        return is_overdue(self.row, self.today)

    @property
    def on_time(self) -> bool | None:
        """Judged at submission; an open item past its deadline is late already; null while open and not yet due."""
        if self.row.on_time is not None:
            return self.row.on_time
        return False if is_overdue(self.row, self.today) else None


@dataclass(frozen=True)
class ListRow(Row):
    row: RectificationList
    items_total: int
    items_closed: int
    items: list[ItemRow] | None = None

    @property
    def status_label(self) -> str:
        return LIST_STATUSES[self.row.status]


@dataclass(frozen=True)
class RaterRow(Row):
    """What the rater sees of the item of their 差评: measures and result once the answer was given to them
    (`answered_at` here is that moment, see feedback_at)."""

    row: RectificationItem

    @property
    def status_label(self) -> str:
        return STATUSES[self.row.status]

    @property
    def answered_at(self) -> datetime | None:
        return feedback_at(self.row)

    @property
    def measures(self) -> str | None:
        return self.row.measures if feedback_at(self.row) is not None else None

    @property
    def result(self) -> str | None:
        return self.row.result if feedback_at(self.row) is not None else None

    @property
    def rater_satisfaction(self) -> int | None:
        """The rater's answer to the feedback they were last given; null while that feedback awaits an answer."""
        return self.row.rater_satisfaction if feedback_answered(self.row) else None

    @property
    def rater_answered_at(self) -> datetime | None:
        return self.row.rater_answered_at if feedback_answered(self.row) else None


def feedback_at(item: RectificationItem) -> datetime | None:
    """When the answer about a 差评 reached its rater: the callback that told them (`answered_at`), or, for a rater
    who left no contact or could not be reached, the submission that put the reason on record — the receipt page
    is then their only way to learn what was done, so from then on it shows the measures."""
    if item.answered_at is not None:
        return item.answered_at
    return item.submitted_at if item.unreachable else None


def feedback_answered(item: RectificationItem) -> bool:
    """The rater has answered the latest feedback (a 回头看 fed back again asks them again)."""
    fed_back = feedback_at(item)
    return fed_back is not None and item.rater_answered_at is not None and item.rater_answered_at >= fed_back


def rater_view(item: RectificationItem) -> RaterRow:
    return RaterRow(item)


# ---- deadlines ---------------------------------------------------------------------------------------------
def verify_days() -> int:
    return current_app.config["RECTIFY_VERIFY_DAYS"]


def rectify_days(resolution: str | None) -> int:
    key = "RECTIFY_SCHEDULED_DAYS" if resolution == "scheduled" else "RECTIFY_DAYS"
    return current_app.config[key]


def first_deadlines(source_on: date, calendar: "workdays.WorkCalendar") -> tuple[date, workdays.Deadline]:
    """(verify_due, the 整改 deadline) of a new item, both fixed from the source's day: 核实 within
    RECTIFY_VERIFY_DAYS working days, 整改 within RECTIFY_DAYS working days after that."""
    verify = calendar.add_working_days(source_on, verify_days())
    found = calendar.add_working_days(verify.due, rectify_days(None))
    return verify.due, workdays.Deadline(found.due, found.provisional or verify.provisional)


def set_deadline(item: RectificationItem, start: date, days: int) -> None:
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


def _recount_verify_dues(first: date, last: date, stamp: datetime) -> tuple[date | None, int]:
    """The 核实 deadlines of open items whose source day is in [first, last], counted again; a 整改 deadline still
    counted from the old verify_due moves its start with it (recount_deadlines then counts it again). Each moved
    item is stamped (updated_at), like every write: pollers and the items' rollup see it move. (latest, moved)"""
    item = RectificationItem
    days = db.session.execute(select(item.source_on).distinct().where(
        item.status.in_(OPEN_STATUSES), item.source_on.between(first, last), item.verify_due.is_not(None))).scalars().all()
    if not days:
        return None, 0
    calendar = workdays.load(min(days), max(days))
    latest, moved_items = None, 0
    for day in days:
        verify = calendar.add_working_days(day, verify_days()).due
        moved = (item.status.in_(OPEN_STATUSES), item.source_on == day, item.verify_due != verify)
        db.session.execute(update(item).where(*moved, item.due_start == item.verify_due).values(due_start=verify)
                           .execution_options(synchronize_session=False))
        moved_items += db.session.execute(update(item).where(*moved).values(verify_due=verify, updated_at=stamp)
                                          .execution_options(synchronize_session=False)).rowcount
        latest = max(latest or verify, verify)
    return latest, moved_items


def recount_deadlines(first: date, last: date) -> int:
    """After a calendar change: count open deadlines starting in [first, last] again (one UPDATE per distinct start
    and length, not one per item)."""
    stamp = now()
    latest, moved = _recount_verify_dues(first, last, stamp)
    last = max(last, latest or last)  # a moved start may now lie after `last`
    groups = db.session.execute(
        select(RectificationItem.due_start, RectificationItem.due_days).distinct()
        .where(RectificationItem.status.in_(OPEN_STATUSES), RectificationItem.due_start.between(first, last))).all()
    if not groups:
        if moved:
            mark_changed(stamp)
        return 0
    calendar = workdays.load(min(g[0] for g in groups), max(g[0] for g in groups))
    changed = 0
    for start, days in groups:
        found = calendar.add_working_days(start, days)
        match = and_(RectificationItem.due_start == start, RectificationItem.due_days == days,
                     RectificationItem.status.in_(OPEN_STATUSES),
                     or_(RectificationItem.due_date != found.due, RectificationItem.due_provisional != found.provisional))
        db.session.execute(ItemEvent.__table__.insert().from_select(
            ["item_id", "at", "actor", "action", "from_status", "to_status", "note"],
            select(RectificationItem.id, literal(stamp), literal("系统"), literal("deadline_changed"),
                   RectificationItem.status, RectificationItem.status,
                   literal(f"工作日历调整，整改期限改为 {found.due.isoformat()}"))
            .where(match)))
        changed += db.session.execute(update(RectificationItem).where(match).values(
            due_date=found.due, due_provisional=found.provisional, updated_at=stamp)
            .execution_options(synchronize_session=False)).rowcount
    if changed or moved:
        mark_changed(stamp)
    return changed


# ---- lookups -----------------------------------------------------------------------------------------------
def item_for_rating(rating_id: int, *, lock: bool = False) -> RectificationItem | None:
    stmt = select(RectificationItem).where(RectificationItem.source == "rating",
                                           RectificationItem.source_id == str(rating_id))
    if lock:  # see scoped_item: the rater's answer checks then writes, like an action
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return db.session.execute(stmt).scalar_one_or_none()


def scoped_item(principal: Principal, item_id: int, *, lock: bool = False) -> tuple[RectificationItem, str]:
    """(item, its list's code); outside the caller's scope looks exactly like unknown."""
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


def item_events(item_id: int) -> list[ItemEvent]:
    db.session.flush()
    return list(db.session.execute(select(ItemEvent).where(ItemEvent.item_id == item_id)
                                   .order_by(ItemEvent.at, ItemEvent.id)).scalars())


def get_item(principal: Principal, item_id: int) -> ItemRow:
    item, code = scoped_item(principal, item_id)
    return ItemRow(item, code, local_date(now()), item_events(item.id))


def list_code_for_walkthrough(walkthrough_id: str) -> str | None:
    return db.session.execute(select(RectificationList.code)
                              .where(RectificationList.walkthrough_id == walkthrough_id)).scalar_one_or_none()


# ---- what every write to an item does ----------------------------------------------------------------------
def touch(item: RectificationItem, stamp: datetime) -> None:
    item.version += 1
    item.updated_at = stamp


def record_event(item: RectificationItem, stamp: datetime, actor: str, action: str, before: str | None,
                 note: str | None) -> None:
    db.session.add(ItemEvent(item_id=item.id, at=stamp, actor=actor, action=action, from_status=before,
                             to_status=item.status, note=note))


def reopen_list(list_id: int) -> None:
    db.session.execute(update(RectificationList).where(RectificationList.id == list_id,
                                                       RectificationList.status == "closed")
                       .values(status="open", closed_at=None))
