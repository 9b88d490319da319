"""The deliver_events job: signed POSTs of the outbox's events to the subscriptions, with retries.

At least once, in order per subscription and subject (an item's later event waits until its earlier one was
acknowledged), any 2xx acknowledges; failures retry with exponential backoff and jitter, `dead` after
DELIVERY_MAX_ATTEMPTS; a 410 Gone switches the subscription off. One deliverer works on a subscription at a time
(a claim on its row, with an expiry), each subscription in its own worker thread with a time budget, so a slow or
dead receiver holds up neither the other receivers nor the other jobs. No database transaction is open while a
request is in flight.

Throughput: DELIVERY_CONNECTIONS keep-alive connections per subscription and run, sending at once, a subject
always on the same one (service/webhook.py); the queue is read a batch at a time along the (subscription, status,
event) index; acknowledgements are recorded together, once per batch or every
RECORD_EVERY_SECONDS, whichever comes first (a failure is recorded at once). So a deliverer that dies may have
had up to a batch acknowledged but not recorded: those events are sent again, with the same ids."""
import json
import math
import queue
import random
import threading
import time
import uuid
import zlib
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import BigInteger, bindparam, literal, or_, select, update

from models import Delivery, OutboxEvent, Subscription, db

from . import delivery, priority, provincial, webhook
from .database import end_unit_of_work, writing
from .security import decrypt
from .sqlutil import insert, settled_below
from .timeutil import iso, now

FANOUT_CHUNK = 1000  # events per fan-out transaction
RECORD_EVERY_SECONDS = 0.1  # a slow receiver's acknowledgements are recorded one by one


def _config(name: str):
    return current_app.config[name]


def fan_out(stamp: datetime) -> int:
    """A pending delivery for every new event each active subscription wants. On SQLite (id order is commit order)
    FANOUT_CHUNK event ids per write transaction: a write transaction keeps every other writer waiting there, and
    one run's backlog at full intake (tens of thousands of events) in a single INSERT held the citizens' ratings up
    for most of a second; a run cut off between two chunks goes on from the cursor. On PostgreSQL, in one
    statement, the events of the transactions older than the oldest one still running (sqlutil.settled_below),
    which have all ended: a transaction still running holds back the events committed after it began until it
    ends, which keeps the order per subject. The unique key keeps a second look free of duplicates."""
    settled = settled_below()
    top = delivery.top_event_id() if settled is None else None
    subs = db.session.execute(select(Subscription).where(Subscription.active.is_(True),
                                                         Subscription.deleted_at.is_(None))).scalars().all()
    made = 0
    for sub in subs:
        sub_id, events, provincial_only = sub.id, list(sub.events), sub.format == "provincial"
        if settled is not None:
            window = [*delivery.unfanned(sub.fanned_event_id, sub.fanned_txid), OutboxEvent.txid < settled,
                      OutboxEvent.id > sub.start_event_id]
            made += _fan_out_range(sub_id, events, provincial_only, window, Subscription.fanned_txid, settled, stamp)
            db.session.commit()
            continue
        floor = max(sub.start_event_id, sub.fanned_event_id)
        while floor < top:
            upto = min(top, floor + FANOUT_CHUNK)
            made += _fan_out_range(sub_id, events, provincial_only, [OutboxEvent.id > floor, OutboxEvent.id <= upto],
                                   Subscription.fanned_event_id, upto, stamp)
            db.session.commit()
            floor = upto
    return made


def _fan_out_range(sub_id: int, events: list[str], provincial_only: bool, window: list, cursor, upto: int,
                   stamp: datetime) -> int:
    """Deliveries for the events in `window` the subscription wants; its `cursor` column moves up to `upto`."""
    e = OutboxEvent
    wanted = [*window, e.type.in_(events)]
    if provincial_only:
        wanted.append(e.subject.like("rating:%"))  # the platform only knows ratings and their 整改
    rows = select(literal(sub_id, BigInteger()), e.id, e.subject, literal("pending"), literal(0),
                  literal(stamp, Delivery.next_attempt_at.type), literal(stamp, Delivery.created_at.type)
                  ).where(*wanted)
    stmt = insert(Delivery.__table__).from_select(
        ["subscription_id", "event_id", "subject", "status", "attempts", "next_attempt_at", "created_at"], rows)
    made = len(db.session.execute(stmt.on_conflict_do_nothing().returning(Delivery.id)).all())
    db.session.execute(update(Subscription).where(Subscription.id == sub_id, cursor < upto).values({cursor: upto}))
    return made


def backoff_seconds(attempts: int) -> float:
    """Exponential (base, doubling, capped) with jitter: three quarters of the delay plus up to a quarter more, so
    receivers coming back are not hit by every retry at once."""
    delay = min(_config("DELIVERY_BACKOFF_MAX_SECONDS"), _config("DELIVERY_BACKOFF_BASE_SECONDS") * 2 ** (attempts - 1))
    return delay * (0.75 + 0.25 * random.random())


# ---- what goes out ---------------------------------------------------------------------------------------------
def envelope(event) -> dict:
    """`event`: an OutboxEvent or a row with its columns (id, type, occurred_at, hall_code, data)."""
    return {"id": str(event.id), "type": event.type, "occurred_at": iso(event.occurred_at), "hall": event.hall_code,
            "data": event.data}


def render(event, fmt: str) -> bytes:
    payload = provincial.body(event) if fmt == "provincial" else envelope(event)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode()


# ---- recording outcomes ------------------------------------------------------------------------------------------
_ACKED = update(Delivery.__table__).where(Delivery.__table__.c.id == bindparam("delivery")).values(
    status="delivered", attempts=Delivery.__table__.c.attempts + 1, last_attempt_at=bindparam("at"),
    last_status_code=bindparam("code"), last_error=None, delivered_at=bindparam("at"))


def _record_acks(acks: list[dict]) -> None:
    """Acknowledged deliveries, in one write transaction."""
    if not acks:
        return
    with writing():
        db.session.execute(_ACKED, acks)
        db.session.commit()
    acks.clear()


def _record_unreachable(delivery_id: int, error: str) -> None:
    """The receiver could not be reached at all: the error is noted on the delivery, which stays as it was (no
    attempt spent, no backoff): the whole queue waits for the receiver, tried again every run, and goes out at once
    when it is back."""
    with writing():
        db.session.execute(update(Delivery).where(Delivery.id == delivery_id, Delivery.status != "delivered")
                           .values(last_attempt_at=now(), last_error=error))
        db.session.commit()


def _record_failure(delivery_id: int, sub_id: int, code: int | None, error: str) -> str:
    """A failed attempt, committed at once; the delivery's status after it. A delivery another deliverer has
    recorded as delivered meanwhile (this one was paused past its claim) stays delivered."""
    stamp = now()
    with writing():
        d = db.session.get(Delivery, delivery_id, with_for_update=True, populate_existing=True)
        if d.status != "delivered":
            d.attempts += 1
            d.last_attempt_at, d.last_status_code, d.last_error = stamp, code, error or None
            if code == 410:
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


# ---- claims ------------------------------------------------------------------------------------------------------
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


# ---- the queue ---------------------------------------------------------------------------------------------------
class Due(NamedTuple):
    delivery_id: int
    event_id: int
    subject: str
    event: object  # a row with the event's columns


_EVENT = (OutboxEvent.id, OutboxEvent.type, OutboxEvent.occurred_at, OutboxEvent.hall_code, OutboxEvent.data)


def _held(sub_id: int) -> dict:
    """The subscription's failed and dead deliveries by event id, read once per turn (few: a failure ends the
    turn). They hold back the later events of their subject until they are due again (dead: until retried)."""
    return {r.event_id: r for r in db.session.execute(
        select(Delivery.id, Delivery.event_id, Delivery.subject, Delivery.status, Delivery.next_attempt_at)
        .where(Delivery.subscription_id == sub_id, Delivery.status.in_(("failed", "dead"))))}


def _batch(sub_id: int, held: dict, blocked: set, after: int, stamp: datetime) -> tuple[list[Due], int, bool]:
    """The next deliveries to send in event order after event `after`: the pending ones (along the index), merged
    with the held ones among them; a subject whose earliest undelivered event is not due (or dead) is skipped
    from there on (`blocked`). Returns (due, the event id to continue after, whether the queue ends here)."""
    limit = _config("DELIVERY_BATCH")
    pending = db.session.execute(
        select(Delivery.id.label("delivery_id"), Delivery.subject, *_EVENT)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .where(Delivery.subscription_id == sub_id, Delivery.status == "pending", Delivery.event_id > after)
        .order_by(Delivery.event_id).limit(limit)).all()
    last = len(pending) < limit
    top = math.inf if last else pending[-1].id
    rows = [(r.id, r) for r in pending if r.id not in held]  # (held: a retry requeued it during this turn)
    rows += [(event_id, h) for event_id, h in held.items() if after < event_id <= top]
    due, fetch = [], []
    for event_id, row in sorted(rows, key=lambda pair: pair[0]):
        if row.subject in blocked:
            continue
        if event_id in held:
            if row.status == "dead" or row.next_attempt_at > stamp:
                blocked.add(row.subject)
                continue
            fetch.append(event_id)
            due.append(Due(row.id, event_id, row.subject, None))
        else:
            due.append(Due(row.delivery_id, event_id, row.subject, row))
    if fetch:
        events = {e.id: e for e in db.session.execute(select(*_EVENT).where(OutboxEvent.id.in_(fetch)))}
        due = [d if d.event is not None else d._replace(event=events[d.event_id]) for d in due]
    return due, (max((e for e, _ in rows), default=after) if last else top), last


class _Turn:
    """One subscription's turn in a run: its receiver's connections, its held deliveries, the outcomes not yet
    recorded, and what it counted.

    A batch goes out over DELIVERY_CONNECTIONS keep-alive connections at once, each carrying the subjects that hash
    to it (a subject always to the same one, so its events still go one after the other, each after the previous
    one's acknowledgement): while one connection waits for the receiver's answer, another sends. Only this thread
    touches the database; the other connections' threads hand their answers over in `outcomes`."""

    def __init__(self, sub: Subscription, deadline: float):
        self.sub_id, self.fmt, self.deadline = sub.id, sub.format, deadline
        self.secret = decrypt(sub.secret_enc)
        self.receivers = [webhook.Connection(sub.url, _config("DELIVERY_TIMEOUT_SECONDS"))
                          for _ in range(max(1, _config("DELIVERY_CONNECTIONS")))]
        self.lanes = ThreadPoolExecutor(len(self.receivers) - 1, thread_name_prefix="deliver-lane",
                                        initializer=priority.lower_thread, initargs=(_config("DELIVERY_NICE"),)
                                        ) if len(self.receivers) > 1 else None
        self.held, self.blocked = _held(sub.id), set()
        self.outcomes = queue.SimpleQueue()  # (due, answer, when), in each connection's order
        self.halt = threading.Event()  # out of time, out of reach, or an answer that stops the batch
        self.trouble = False
        self.counts = {"delivered": 0, "failed": 0, "dead": 0, "unreachable": 0}

    def send(self, batch: list[Due]) -> bool:
        """POST the batch, in order per subject; whether the turn goes on (nothing failed, time left)."""
        lanes = [[] for _ in self.receivers]
        for due in batch:
            lanes[zlib.crc32(due.subject.encode()) % len(lanes)].append((due, render(due.event, self.fmt)))
        db.session.rollback()  # no transaction stays open while requests are in flight
        self.halt.clear()
        self.trouble = False
        others = [self.lanes.submit(self._lane, receiver, items)
                  for receiver, items in zip(self.receivers[1:], lanes[1:], strict=True) if items]
        self._lane(self.receivers[0], lanes[0], record=True)
        while others:
            done, others = wait(others, timeout=RECORD_EVERY_SECONDS)
            self.record()
            for lane in done:
                lane.result()  # a fault in another connection's thread is this run's
        self.record()
        return not (self.halt.is_set() or self.trouble)

    def _lane(self, receiver: webhook.Connection, items: list, record: bool = False) -> None:
        """One connection's share of the batch, in order; `record`: this is the turn's own thread, which records
        what all connections were answered every RECORD_EVERY_SECONDS (a slow receiver's acknowledgements one by
        one)."""
        recorded = time.monotonic()
        for due, body in items:
            if self.halt.is_set() or time.monotonic() >= self.deadline:
                self.halt.set()
                break
            if due.subject in self.blocked:
                continue
            answer = receiver.post(webhook.headers(due.event, body, self.secret), body)
            self.outcomes.put((due, answer, now()))
            if not answer.ok:
                self.trouble = True  # the rest of the batch (other subjects) still goes, unless:
                self.blocked.add(due.subject)
                if not answer.reached or answer.code is None or answer.code == 410:
                    self.halt.set()  # out of reach, too slow, dropped, or gone: retry on schedule
            if record and time.monotonic() - recorded >= RECORD_EVERY_SECONDS:
                self.record()
                recorded = time.monotonic()

    def record(self) -> None:
        """What the receiver answered so far: acknowledgements together, a failure at once (after the
        acknowledgements before it)."""
        acks = []
        while True:
            try:
                due, answer, when = self.outcomes.get_nowait()
            except queue.Empty:
                break
            if answer.ok:
                acks.append({"delivery": due.delivery_id, "code": answer.code, "at": when})
                self.held.pop(due.event_id, None)
                self.counts["delivered"] += 1
                continue
            _record_acks(acks)
            if not answer.reached:
                _record_unreachable(due.delivery_id, answer.error)
                self.counts["unreachable"] += 1
            else:
                status = _record_failure(due.delivery_id, self.sub_id, answer.code, answer.error)
                self.counts["dead" if status == "dead" else "failed"] += 1
        _record_acks(acks)

    def close(self) -> None:
        self.halt.set()
        if self.lanes is not None:
            self.lanes.shutdown(wait=True)
        for receiver in self.receivers:
            receiver.close()
        db.session.rollback()
        self.record()  # acknowledged is acknowledged, whatever ended the turn


def deliver_subscription(sub_id: int, holder: str, deadline: float) -> dict:
    """Work on one subscription until its queue is empty, its receiver fails, or the time is up."""
    # The claim outlives the run's budget by a request's timeout and a margin; a killed deliverer's claim expires.
    sub = _claim(sub_id, holder, deadline - time.monotonic() + 2 * _config("DELIVERY_TIMEOUT_SECONDS") + 5)
    if sub is None:
        return {"delivered": 0, "failed": 0, "dead": 0, "unreachable": 0}
    turn, after = _Turn(sub, deadline), 0
    try:
        while time.monotonic() < deadline:
            batch, after, last = _batch(sub_id, turn.held, turn.blocked, after, now())
            if not turn.send(batch) or last or not _still_active(sub_id):
                break
    finally:
        turn.close()
        _release(sub_id, holder)
    return turn.counts


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
    counts = {"deliveries_created": made, "delivered": 0, "failed": 0, "dead": 0, "unreachable": 0}
    if not subs:
        return counts, None
    # Unique per run: two runs (a CLI run beside the scheduler) never share a claim.
    holder = f"{holder or 'deliver'}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + _config("DELIVERY_RUN_SECONDS")
    app = current_app._get_current_object()
    with ThreadPoolExecutor(max_workers=min(len(subs), _config("DELIVERY_CONCURRENCY")), thread_name_prefix="deliver",
                            initializer=priority.lower_thread, initargs=(_config("DELIVERY_NICE"),)) as pool:
        for result in pool.map(lambda sid: _in_context(app, deliver_subscription, sid, holder, deadline), subs):
            for key, value in result.items():
                counts[key] += value
    return counts, None
