"""The rectification state machine: the actions staff and supervisors take on an item, checked in the order
scope, role, version (If-Match), status, fields; the change and its event commit together."""
from sqlalchemy import update

from models import Rating, RectificationItem, db

from . import outbox, workdays
from .auth import Principal
from .database import writes
from .errors import BadRequest, Conflict, PreconditionFailed, ValidationFailed
from .rectification import (
    ACTIONS,
    CLOSED_STATUSES,
    STATUSES,
    Action,
    ItemRow,
    item_events,
    mark_changed,
    record_event,
    rectify_days,
    reopen_list,
    scoped_item,
    set_deadline,
    touch,
)
from .timeutil import local_date, now

EXTRA_FIELDS = ("note", "resolution", "callback_note", "measures", "result", "answered", "unreachable")
FIELD_LABELS = {"note": "说明", "resolution": "处理方式", "callback_note": "回访记录", "measures": "整改措施",
                "result": "整改结果", "answered": "是否已反馈评价人", "unreachable": "无法联系评价人的原因"}


def parse_version(header: str | None) -> int | None:
    """The version an If-Match names: `3`, `"3"` or `W/"3"`; anything else is a 400."""
    if header is None or header.strip() == "":
        return None
    raw = header.strip().removeprefix("W/").strip('"')
    # ASCII digits only: str.isdigit() also accepts e.g. "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequest("If-Match 必须是整改事项的版本号，例如 3", code="invalid_if_match")
    return int(raw)


def allowed_actions(principal: Principal, status: str) -> list[str]:
    return [name for name, a in ACTIONS.items() if status in a.sources and principal.at_least(a.role)]


def _check_fields(action: Action, item: RectificationItem, data: dict) -> None:
    errors = {}
    for field in EXTRA_FIELDS:
        value = data.get(field)
        if field in action.required and (value is None or (isinstance(value, str) and not value.strip())):
            errors[field] = [f"请填写{FIELD_LABELS[field]}"]
        elif value is not None and field not in action.required + action.optional:
            errors[field] = [f"「{action.label}」不使用{FIELD_LABELS[field]}，请不要填写"]
    if item.source != "rating":
        for field in ("answered", "unreachable"):
            if data.get(field):
                errors[field] = ["只有好差评的整改事项需要反馈评价人"]
    if errors:
        raise ValidationFailed(errors)
    if action is ACTIONS["submit"] and item.source == "rating":
        _check_feedback(data)


def _check_feedback(data: dict) -> None:
    """A 差评 item is not submitted until the rater has been told what was done, or the reason they could not be
    (no contact left, unreachable after the callback attempts) is on record."""
    answered = data.get("answered") is True
    unreachable = (data.get("unreachable") or "").strip()
    if answered and unreachable:
        raise ValidationFailed({"unreachable": ["已反馈评价人时不填写无法联系评价人的原因"]})
    if not answered and not unreachable:
        raise ValidationFailed(
            {"answered": ["提交前须将整改措施反馈评价人，或填写无法联系评价人的原因"]},
            code="feedback_required")


APPEAL_NOTE_MIN = 10  # an appeal names its evidence: why the 差评 is 误评 or 恶意, not a word


def _check_appeal(name: str, item: RectificationItem, data: dict, today) -> None:
    if name != "appeal":
        return
    if len((data.get("note") or "").strip()) < APPEAL_NOTE_MIN:
        raise ValidationFailed({"note": [f"申诉须写明理由和证据（不少于 {APPEAL_NOTE_MIN} 个字）"]})
    if item.verify_due is not None and today > item.verify_due:
        raise Conflict(f"申诉须在核实期限（{item.verify_due.isoformat()}）内提出，已超过期限，请按期整改",
                       code="appeal_window_closed")


def _apply(name: str, item: RectificationItem, data: dict, stamp) -> str | None:
    """What the action changes besides the status; returns the event's note. The 整改 deadline is fixed at creation
    from verify_due: verification never moves it (a scheduled resolution takes the longer limit, still counted from
    verify_due), an appeal pauses it and a denied one adds only the working days it took, a rejection keeps it."""
    today = local_date(stamp)
    note = data.get("note")
    if name in ("verify", "appeal") and item.status == "pending" and item.verified_on_time is None:
        # 核实 ends in a resolution or an appeal; either way it was on time or it was not, and that stays.
        item.verified_on_time = item.verify_due is None or today <= item.verify_due
    if name == "verify":
        item.resolution = data["resolution"]
        if data.get("callback_note"):
            item.callback_at, item.callback_note = stamp, data["callback_note"]
        start = item.verify_due or item.due_start
        days = rectify_days(item.resolution)
        if (item.due_start, item.due_days) != (start, days):
            set_deadline(item, start, days)
        note = note or data.get("callback_note")
    elif name == "appeal":
        item.appealed_at = stamp
    elif name == "deny_appeal":
        took = workdays.working_days_between(local_date(item.appealed_at or stamp), today)
        set_deadline(item, item.due_start, item.due_days + took)
        item.appealed_at = None
        note = f"{note}（申诉用时 {took} 个工作日，整改期限顺延至 {item.due_date.isoformat()}）"
    elif name == "reopen":
        # 回头看 after closure is a new round of 整改: a fresh period from today.
        set_deadline(item, today, rectify_days(item.resolution))
        item.on_time = None
    elif name == "reject":
        # The clock runs again from the old deadline: the hall had its time.
        item.on_time = None
    elif name == "submit":
        item.measures, item.result = data["measures"], data["result"]
        if data.get("answered"):
            item.answered_at = stamp
        item.unreachable = (data.get("unreachable") or "").strip() or None
        if item.unreachable:
            note = f"无法联系评价人：{item.unreachable}" + (f"；{note}" if note else "")
        item.submitted_at, item.on_time = stamp, today <= item.due_date
    elif name == "accept":
        item.accept_wait_days = workdays.working_days_between(local_date(item.submitted_at or stamp), today)
    elif name == "uphold_appeal":
        item.appealed_at = None
        if item.source == "rating":
            # An upheld appeal takes the 差评 out of every metric.
            db.session.execute(update(Rating).where(Rating.id == int(item.source_id)).values(effective=False))
    return note


@writes
def act(principal: Principal, item_id: int, data: dict, if_match: str | None) -> ItemRow:
    """Take one action on an item: scope, role, version, state, fields; the change and its event commit together."""
    expected = parse_version(if_match)
    item, code = scoped_item(principal, item_id, lock=True)
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
    stamp = now()
    _check_appeal(name, item, data, local_date(stamp))

    before = item.status
    note = _apply(name, item, data, stamp)
    item.status = action.to
    item.closed_at = stamp if action.to in CLOSED_STATUSES else None
    touch(item, stamp)
    record_event(item, stamp, principal.name, name, before, note)
    outbox.emit(outbox.item_changed(item, before, name, stamp))  # events out: same transaction
    if action.to not in CLOSED_STATUSES:
        reopen_list(item.list_id)
    mark_changed(stamp)
    db.session.commit()
    return ItemRow(item, code, local_date(stamp), item_events(item.id))
