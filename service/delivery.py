"""The outbox's receivers and their queue: subscriptions, the deliveries (one row per event and receiver), the
operator's retry, and the backlog /health reports. The deliver_events job that sends them is service/deliverer.py."""
import re
import secrets

from sqlalchemy import func, select

from models import Delivery, OutboxEvent, Subscription, db

from . import outbox, provincial
from .database import writes
from .errors import Conflict, NotFound, ValidationFailed
from .pagination import decode_cursor, encode_cursor
from .security import encrypt
from .sqlutil import dialect_name, settled_below
from .timeutil import now

FORMATS = {"webhook": "通用推送（事件信封）", "provincial": "省好差评平台字段"}
STATUSES = {"pending": "待投递", "delivered": "已投递", "failed": "失败待重试", "dead": "已放弃"}


# ---- subscriptions ---------------------------------------------------------------------------------------
# A receiver: http(s), a host name of DNS labels or an IPv4 address, a port 1–65535, then printable ASCII. The
# OpenAPI document declares the same pattern, so a generated client never sends an address the service refuses.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PORT = r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
RECEIVER_URL_PATTERN = rf"^https?://{_LABEL}(?:\.{_LABEL})*(?::{_PORT})?(?:/[!-~]*)?$"
_RECEIVER_URL = re.compile(RECEIVER_URL_PATTERN)
URL_MESSAGE = "接收地址格式不正确，请填写完整的网址（含协议和主机名，可带端口和路径）"


def receiver_url_problem(url: str) -> str | None:
    return None if _RECEIVER_URL.fullmatch(url) else URL_MESSAGE


def _check(data: dict, fmt: str) -> None:
    if "url" in data and (problem := receiver_url_problem(data["url"])):
        raise ValidationFailed({"url": [problem]})
    events = data.get("events")
    if events is None:
        return
    errors = []
    unknown = [e for e in events if e not in outbox.TYPES]
    if unknown:
        errors.append(f"未知的事件类型：{'、'.join(unknown)}")
    if not events:
        errors.append("请至少订阅一种事件")
    if fmt == "provincial" and (other := [e for e in events if e in outbox.TYPES and e not in provincial.TYPES]):
        labels = "、".join(outbox.TYPES[e] for e in provincial.TYPES)
        errors.append(f"省平台格式不支持这些事件：{'、'.join(outbox.TYPES[e] for e in other)}（支持：{labels}）")
    if errors:
        raise ValidationFailed({"events": errors})


def subscription_view(sub: Subscription, secret: str | None = None) -> dict:
    view = {"id": sub.id, "name": sub.name, "url": sub.url, "events": list(sub.events), "format": sub.format,
            "active": sub.active, "disabled_reason": sub.disabled_reason, "created_at": sub.created_at}
    if secret is not None:
        view["secret"] = secret
    return view


def top_event_id() -> int:
    return db.session.execute(select(func.max(OutboxEvent.id))).scalar() or 0


def unfanned(fanned_event_id: int, fanned_txid: int) -> list:
    """Conditions on OutboxEvent: the events not yet fanned out past these cursors."""
    if dialect_name() == "postgresql":
        return [OutboxEvent.txid >= fanned_txid]
    return [OutboxEvent.id > fanned_event_id]


@writes
def create_subscription(data: dict) -> dict:
    """A new receiver gets the events from now on (not the history); its secret is answered this once."""
    _check(data, data["format"])
    secret = "whsec_" + secrets.token_urlsafe(32)
    stamp, settled, top = now(), settled_below(), top_event_id()
    sub = Subscription(name=data["name"], url=data["url"], events=list(dict.fromkeys(data["events"])),
                       format=data["format"], secret_enc=encrypt(secret), active=True, fanned_event_id=top,
                       fanned_txid=settled or 0, start_event_id=top, created_at=stamp, updated_at=stamp)
    db.session.add(sub)
    db.session.commit()
    return subscription_view(sub, secret)


def _find(sub_id: int) -> Subscription:
    sub = db.session.get(Subscription, sub_id)
    if sub is None or sub.deleted_at is not None:
        raise NotFound("未找到该订阅")
    return sub


def list_subscriptions() -> dict:
    rows = db.session.execute(select(Subscription).where(Subscription.deleted_at.is_(None))
                              .order_by(Subscription.id)).scalars()
    return {"items": [subscription_view(s) for s in rows]}


@writes
def update_subscription(sub_id: int, data: dict) -> dict:
    sub = _find(sub_id)
    _check(data, sub.format)
    if "events" in data:
        sub.events = list(dict.fromkeys(data["events"]))
    if "url" in data:
        sub.url = data["url"]
    if "active" in data:
        sub.active = data["active"]
        sub.disabled_reason = None if data["active"] else "管理员停用"
    sub.updated_at = now()
    db.session.commit()
    return subscription_view(sub)


@writes
def delete_subscription(sub_id: int) -> None:
    """Kept (its deliveries are history) but gone from lists; nothing more is sent to it."""
    sub = _find(sub_id)
    sub.active, sub.deleted_at, sub.disabled_reason = False, now(), "已删除"
    db.session.commit()


# ---- deliveries ------------------------------------------------------------------------------------------
def delivery_view(d: Delivery, event_type: str) -> dict:
    return {"id": d.id, "subscription": d.subscription_id, "event_id": d.event_id, "event_type": event_type,
            "status": d.status, "attempts": d.attempts, "last_status_code": d.last_status_code,
            "last_error": d.last_error, "next_attempt_at": d.next_attempt_at if d.status in ("pending", "failed")
            else None, "last_attempt_at": d.last_attempt_at, "delivered_at": d.delivered_at,
            "created_at": d.created_at}


def list_deliveries(filters: dict, *, cursor: str | None, limit: int) -> dict:
    stmt = select(Delivery, OutboxEvent.type).join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
    if filters.get("subscription") is not None:
        stmt = stmt.where(Delivery.subscription_id == filters["subscription"])
    if filters.get("status"):
        stmt = stmt.where(Delivery.status == filters["status"])
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(Delivery.id < after)
    rows = db.session.execute(stmt.order_by(Delivery.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [delivery_view(d, t) for d, t in rows],
            "next_cursor": encode_cursor(rows[-1][0].id) if more else None}


@writes
def retry(delivery_id: int) -> dict:
    """A dead or failed delivery goes back in the queue at once, with a fresh count of attempts."""
    row = db.session.execute(select(Delivery, OutboxEvent.type).join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
                             .where(Delivery.id == delivery_id).with_for_update(of=Delivery)).first()
    if row is None:
        raise NotFound("未找到该投递记录")
    d, event_type = row
    if d.status not in ("dead", "failed"):
        raise Conflict(f"投递状态为「{STATUSES[d.status]}」，只有失败或已放弃的投递可以重试", code="not_retryable")
    d.status, d.attempts, d.next_attempt_at = "pending", 0, now()
    db.session.commit()
    return delivery_view(d, event_type)


def backlog() -> dict:
    """For /health: undelivered deliveries of active receivers and the age of the oldest event among them."""
    active = select(Subscription.id).where(Subscription.active.is_(True), Subscription.deleted_at.is_(None))
    pending, oldest = db.session.execute(
        select(func.count(), func.min(OutboxEvent.occurred_at)).select_from(Delivery)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .where(Delivery.status.in_(("pending", "failed")), Delivery.subscription_id.in_(active))).one()
    # Events not yet given their deliveries (they are, at the start of every run).
    floor = db.session.execute(select(func.min(Subscription.fanned_event_id), func.min(Subscription.fanned_txid))
                               .where(Subscription.active.is_(True), Subscription.deleted_at.is_(None))).one()
    waiting = None if floor[0] is None else db.session.execute(
        select(func.min(OutboxEvent.occurred_at)).where(*unfanned(*floor))).scalar()
    starts = [t for t in (oldest, waiting) if t is not None]
    age = None if not starts else max(0, int((now() - min(starts)).total_seconds()))
    dead = db.session.execute(select(func.count()).select_from(Delivery).where(
        Delivery.status == "dead", Delivery.subscription_id.in_(active))).scalar()
    return {"pending": pending, "dead": dead, "oldest_pending_seconds": age}
