"""Delivering the outbox: subscriptions, one delivery row per event and receiver, signed POSTs with retries.

At least once, in order per subscription and subject (an item's later event waits until its earlier one was
acknowledged), any 2xx acknowledges; failures retry with exponential backoff and jitter, `dead` after
DELIVERY_MAX_ATTEMPTS; a 410 Gone switches the subscription off. One deliverer works on a subscription at a time
(a claim row), each subscription in its own worker thread with a time budget, so a slow or dead receiver holds up
neither the other receivers nor the other jobs. No database transaction is open while a request is in flight."""
import hashlib
import hmac
import json
import logging
import random
import re
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import requests
from flask import current_app
from sqlalchemy import BigInteger, func, literal, or_, select, update

from models import Delivery, OutboxEvent, Subscription, db

from . import outbox, provincial
from .database import end_unit_of_work, writes, writing
from .errors import Conflict, NotFound, ValidationFailed
from .pagination import decode_cursor, encode_cursor
from .security import decrypt, encrypt
from .sqlutil import insert
from .timeutil import iso, now

log = logging.getLogger(__name__)
FORMATS = {"webhook": "通用推送（事件信封）", "provincial": "省好差评平台字段"}
STATUSES = {"pending": "待投递", "delivered": "已投递", "failed": "失败待重试", "dead": "已放弃"}
UNDELIVERED = ("pending", "failed", "dead")
USER_AGENT = "hall-feedback-events/1"


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


def _top_event_id() -> int:
    return db.session.execute(select(func.max(OutboxEvent.id))).scalar() or 0


@writes
def create_subscription(data: dict) -> dict:
    """A new receiver gets the events from now on (not the history); its secret is answered this once."""
    _check(data, data["format"])
    secret = "whsec_" + secrets.token_urlsafe(32)
    stamp, top = now(), _top_event_id()
    sub = Subscription(name=data["name"], url=data["url"], events=list(dict.fromkeys(data["events"])),
                       format=data["format"], secret_enc=encrypt(secret), active=True, fanned_event_id=top,
                       start_event_id=top, created_at=stamp, updated_at=stamp)
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
    floor = db.session.execute(select(func.min(Subscription.fanned_event_id)).where(
        Subscription.active.is_(True), Subscription.deleted_at.is_(None))).scalar()
    unfanned = None if floor is None else db.session.execute(
        select(func.min(OutboxEvent.occurred_at)).where(OutboxEvent.id > floor)).scalar()
    starts = [t for t in (oldest, unfanned) if t is not None]
    age = None if not starts else max(0, int((now() - min(starts)).total_seconds()))
    dead = db.session.execute(select(func.count()).select_from(Delivery).where(
        Delivery.status == "dead", Delivery.subscription_id.in_(active))).scalar()
    return {"pending": pending, "dead": dead, "oldest_pending_seconds": age}


# ---- the job ---------------------------------------------------------------------------------------------
def _config(name: str):
    return current_app.config[name]


def fan_out(stamp: datetime) -> int:
    """A pending delivery for every new event each active subscription wants. Ids a little below the cursor are
    looked at again (on PostgreSQL an event can commit after one with a higher id); the unique key keeps that free
    of duplicates."""
    top = _top_event_id()
    subs = db.session.execute(select(Subscription).where(Subscription.active.is_(True),
                                                         Subscription.deleted_at.is_(None))).scalars().all()
    made = 0
    lookback = _config("DELIVERY_FANOUT_LOOKBACK_IDS")
    for sub in subs:
        floor = max(sub.start_event_id, sub.fanned_event_id - lookback)
        if floor >= top:
            continue
        e = OutboxEvent
        wanted = [e.id > floor, e.id <= top, e.type.in_(list(sub.events))]
        if sub.format == "provincial":
            wanted.append(e.subject.like("rating:%"))  # the platform only knows ratings and their 整改
        rows = select(literal(sub.id, BigInteger()), e.id, e.subject, literal("pending"), literal(0),
                      literal(stamp, Delivery.next_attempt_at.type), literal(stamp, Delivery.created_at.type)
                      ).where(*wanted)
        stmt = insert(Delivery.__table__).from_select(
            ["subscription_id", "event_id", "subject", "status", "attempts", "next_attempt_at", "created_at"], rows)
        made += len(db.session.execute(stmt.on_conflict_do_nothing().returning(Delivery.id)).all())
        db.session.execute(update(Subscription).where(Subscription.id == sub.id, Subscription.fanned_event_id < top)
                           .values(fanned_event_id=top))
    return made


def backoff_seconds(attempts: int) -> float:
    """Exponential (base, doubling, capped) with jitter: three quarters of the delay plus up to a quarter more, so
    receivers coming back are not hit by every retry at once."""
    delay = min(_config("DELIVERY_BACKOFF_MAX_SECONDS"), _config("DELIVERY_BACKOFF_BASE_SECONDS") * 2 ** (attempts - 1))
    return delay * (0.75 + 0.25 * random.random())


def envelope(event: OutboxEvent) -> dict:
    return {"id": str(event.id), "type": event.type, "occurred_at": iso(event.occurred_at), "hall": event.hall_code,
            "data": event.data}


def render(event: OutboxEvent, fmt: str) -> bytes:
    payload = provincial.body(event) if fmt == "provincial" else envelope(event)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _post(http: requests.Session, url: str, event: OutboxEvent, body: bytes, secret: str) -> tuple[int | None, str]:
    """(status code or None, error text); never raises for the receiver's faults."""
    timeout = _config("DELIVERY_TIMEOUT_SECONDS")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
               "X-Feedback-Event": event.type, "X-Feedback-Delivery": str(event.id),
               "X-Feedback-Signature": signature(secret, int(time.time()), body)}
    try:
        response = http.post(url, data=body, headers=headers, timeout=(min(timeout, 3), timeout),
                             allow_redirects=False)
        response.close()
        return response.status_code, "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    except requests.Timeout:
        return None, f"超时（{timeout} 秒）"
    except requests.RequestException as exc:
        return None, f"连接失败：{type(exc).__name__}"


def _record(delivery_id: int, sub_id: int, code: int | None, error: str) -> str:
    """The outcome of one attempt, committed at once (a crash then resends at most the attempt in flight)."""
    stamp = now()
    with writing():
        d = db.session.get(Delivery, delivery_id, with_for_update=True, populate_existing=True)
        d.attempts += 1
        d.last_attempt_at, d.last_status_code, d.last_error = stamp, code, error or None
        if code is not None and 200 <= code < 300:
            d.status, d.delivered_at = "delivered", stamp
        elif code == 410:
            d.status, d.next_attempt_at = "failed", stamp
            db.session.execute(update(Subscription).where(Subscription.id == sub_id).values(
                active=False, disabled_reason="接收方返回 410 Gone，已停止投递", updated_at=stamp))
        elif d.attempts >= _config("DELIVERY_MAX_ATTEMPTS"):
            d.status = "dead"
        else:
            d.status, d.next_attempt_at = "failed", stamp + timedelta(seconds=backoff_seconds(d.attempts))
        status = d.status
        db.session.commit()
    return status


def _claim(sub_id: int, holder: str, seconds: float) -> Subscription | None:
    stamp = now()
    with writing():
        done = db.session.execute(update(Subscription).where(
            Subscription.id == sub_id, Subscription.active.is_(True), Subscription.deleted_at.is_(None),
            or_(Subscription.claimed_until.is_(None), Subscription.claimed_until < stamp,
                Subscription.claimed_by == holder)).values(
            claimed_by=holder, claimed_until=stamp + timedelta(seconds=seconds))).rowcount
        db.session.commit()
    return db.session.get(Subscription, sub_id, populate_existing=True) if done else None


def _release(sub_id: int, holder: str) -> None:
    with writing():
        db.session.execute(update(Subscription).where(Subscription.id == sub_id, Subscription.claimed_by == holder)
                           .values(claimed_by=None, claimed_until=None))
        db.session.commit()


def _still_active(sub_id: int) -> bool:
    active = db.session.execute(select(Subscription.active).where(Subscription.id == sub_id,
                                                                   Subscription.deleted_at.is_(None))).scalar()
    return bool(active)


def _batch(sub_id: int, stamp: datetime) -> list[tuple[Delivery, OutboxEvent]]:
    """The next deliveries in event order, skipping every subject whose earliest undelivered event is not due
    (waiting for a retry, or dead): its later events wait behind it."""
    rows = db.session.execute(
        select(Delivery, OutboxEvent).join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .where(Delivery.subscription_id == sub_id, Delivery.status.in_(UNDELIVERED))
        .order_by(Delivery.event_id).limit(_config("DELIVERY_BATCH"))).all()
    blocked, due = set(), []
    for d, event in rows:
        if d.subject in blocked:
            continue
        if d.status == "dead" or d.next_attempt_at > stamp:
            blocked.add(d.subject)
            continue
        due.append((d, event))
    # Detached with their loaded values, so the rollback that follows does not expire them (a later attribute
    # read would otherwise open a read transaction that the outcome's write could not upgrade on SQLite).
    db.session.expunge_all()
    return due


def deliver_subscription(sub_id: int, holder: str, deadline: float) -> dict:
    """Work on one subscription until its queue is empty, its receiver fails to answer, or the time is up."""
    counts = {"delivered": 0, "failed": 0, "dead": 0}
    # The claim outlives the run's budget by a request's timeout and a margin; a killed deliverer's claim expires.
    sub = _claim(sub_id, holder, deadline - time.monotonic() + 2 * _config("DELIVERY_TIMEOUT_SECONDS") + 5)
    if sub is None:
        return counts
    secret, url, fmt = decrypt(sub.secret_enc), sub.url, sub.format
    try:
        with requests.Session() as http:
            while time.monotonic() < deadline:
                batch = _batch(sub_id, now())
                db.session.rollback()  # no transaction stays open while requests are in flight
                if not batch:
                    break
                blocked, stop = set(), False
                for d, event in batch:
                    if time.monotonic() >= deadline:
                        stop = True
                        break
                    if d.subject in blocked:
                        continue
                    body = render(event, fmt)
                    db.session.rollback()  # the provincial mapping reads the catalog: end that read first
                    code, error = _post(http, url, event, body, secret)
                    status = _record(d.id, sub_id, code, error)
                    if status != "delivered":
                        counts["dead" if status == "dead" else "failed"] += 1
                        blocked.add(d.subject)
                    else:
                        counts["delivered"] += 1
                    if code is None or code == 410:
                        stop = True  # unreachable, too slow, or gone: stop here, retry on schedule
                        break
                if stop or blocked or not _still_active(sub_id):
                    break
    finally:
        _release(sub_id, holder)
    return counts


def _in_context(app, fn, *args):
    with app.app_context():
        try:
            return fn(*args)
        finally:
            end_unit_of_work()


def deliver(*, now: datetime, watermark: dict | None, holder: str | None = None) -> tuple[dict, None]:
    """The deliver_events job: fan out new events, then each active subscription in its own worker thread, all
    within DELIVERY_RUN_SECONDS (plus one request's timeout)."""
    made = fan_out(now)
    db.session.commit()  # the fan-out is durable before any request goes out
    subs = [s for (s,) in db.session.execute(select(Subscription.id).where(
        Subscription.active.is_(True), Subscription.deleted_at.is_(None)).order_by(Subscription.id))]
    db.session.rollback()
    counts = {"deliveries_created": made, "delivered": 0, "failed": 0, "dead": 0}
    if not subs:
        return counts, None
    # Unique per run: two runs (a CLI run beside the scheduler) never share a claim.
    holder = f"{holder or 'deliver'}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + _config("DELIVERY_RUN_SECONDS")
    app = current_app._get_current_object()
    with ThreadPoolExecutor(max_workers=min(len(subs), _config("DELIVERY_CONCURRENCY")),
                            thread_name_prefix="deliver") as pool:
        for result in pool.map(lambda sid: _in_context(app, deliver_subscription, sid, holder, deadline), subs):
            for key, value in result.items():
                counts[key] += value
    return counts, None
