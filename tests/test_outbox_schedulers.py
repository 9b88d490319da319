"""Delivery by real `flask jobs serve` processes against a real receiver on 127.0.0.1 that answers slowly, so a
batch is in flight: a scheduler SIGKILLed in the middle of a batch and restarted; two schedulers on one PostgreSQL
database with the lease moving from one to the other in the middle of a batch (the leader stopped with SIGSTOP).

Every event arrives, signed, in order per item. An event is sent a second time only when the process that sent it
first died (or was stopped) after the receiver had it and before that process recorded the acknowledgement: it is
then sent again with the same id, once, by the process that took over."""
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, text

from models import Delivery, JobRun, SchedulerLease, Subscription, db
from service import calendar_admin, scheduling
from service.database import end_unit_of_work
from tests.conftest import ON_POSTGRES
from tests.outbox_helpers import Receiver, verify
from tests.rect_helpers import fresh, run
from tests.scheduler_helpers import start_scheduler, wait_for
from tests.test_outbox import rate, subscribe
from tests.test_outbox_faults import event_ids, subjects

BATCH = 10
RUN_SECONDS, TIMEOUT_SECONDS = 3, 1
# A short interval and batch, and a receiver taking 50 ms per request: a run is a few batches in flight. Leases of
# 5 s renewed every second (a deployment's: 90 s, every 30 s): with 2 s, one heartbeat held up a second on a busy CI
# machine (a slow commit, the CPU) let the scheduler that had been stopped take the lease back, which is what a
# lease is for but not what the test watches.
DELIVERY = {"DELIVERY_INTERVAL_SECONDS": "1", "DELIVERY_RUN_SECONDS": str(RUN_SECONDS),
            "DELIVERY_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS), "DELIVERY_BATCH": str(BATCH),
            "DELIVERY_BACKOFF_BASE_SECONDS": "1", "DELIVERY_BACKOFF_MAX_SECONDS": "2", "DELIVERY_NICE": "0"}
CUT_AT = BATCH + BATCH // 2  # the request during which a scheduler is cut off: the middle of the second batch


def scheduler(database_url, log: Path) -> subprocess.Popen:
    # The other jobs run once at the start (--interval 60); deliver_events every second. Its log (the lease taken
    # and lost, each run) goes to `log`, shown when a check fails.
    return start_scheduler(database_url, interval=60, lease_seconds=5, env=DELIVERY, log=log)


def logs(tmp_path: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-6000:]}" for p in sorted(tmp_path.glob("*.log")))


def end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGCONT)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def receiver():
    r = Receiver()
    r.delay = 0.05
    yield r
    r.close()


def make_events(client, tokens) -> list[str]:
    """30 ratings through the API (every fifth a 1, every fifth a 2), then their 差评 become items: rating.created,
    rating.bad and rectification.created, three events on one subject for each 差评."""
    calendar_admin.import_package()
    for i in range(30):
        rate(client, tokens, score=1 + i % 5)
    run("collect_bad_ratings")
    expected = event_ids()
    assert len(expected) == 30 + 12 + 12
    end_unit_of_work()  # the schedulers write from here on
    return expected


def delivered_ids() -> set[str]:
    fresh()
    return {str(e) for e in db.session.execute(select(Delivery.event_id).where(Delivery.status == "delivered"))
            .scalars()}


def assert_all_arrived_in_order(receiver: Receiver, secret: str, expected: list[str]) -> Counter:
    """Every event acknowledged, every request a correctly signed copy of a known event, and per subject no event
    sent before the earlier ones were acknowledged. Returns how often each event id was sent."""
    sent = Counter(r["headers"]["X-Feedback-Delivery"] for r in receiver.requests)
    assert set(sent) == set(expected)
    assert {r["headers"]["X-Feedback-Delivery"] for r in receiver.acknowledged()} == set(expected)
    for request in receiver.requests:
        assert verify(secret, request["headers"]["X-Feedback-Signature"], request["body"])
        assert request["json"]["id"] == request["headers"]["X-Feedback-Delivery"]
    of, done = subjects(), set()
    for request in receiver.requests:
        event = request["headers"]["X-Feedback-Delivery"]
        earlier = {e for e in expected if of[e] == of[event] and int(e) < int(event)}
        assert earlier <= done, f"event {event} sent before {sorted(earlier - done)} were acknowledged"
        done.add(event)
    return sent


@pytest.mark.slow
def test_a_scheduler_killed_in_the_middle_of_a_batch_loses_no_event(client, tokens, migrated, receiver, tmp_path):
    sub = subscribe(client, tokens, receiver.url)
    expected = make_events(client, tokens)

    first = scheduler(migrated, tmp_path / "first.log")
    killed = threading.Event()

    def kill_during(entry, n):
        if n == CUT_AT:  # the receiver has the request; its sender never gets the answer
            os.killpg(first.pid, signal.SIGKILL)
            killed.set()

    receiver.hook = kill_during
    try:
        assert killed.wait(60), "the first scheduler did not deliver that far"
        first.wait(timeout=10)
    finally:
        end(first)
    before_kill = [r["headers"]["X-Feedback-Delivery"] for r in receiver.requests]
    assert len(before_kill) == CUT_AT and len(set(before_kill)) == CUT_AT
    recorded = delivered_ids()
    # Acknowledgements were recorded as the batch went (the last few not yet); the one in flight was not.
    assert recorded < set(before_kill) and len(recorded) >= CUT_AT - BATCH
    assert before_kill[-1] not in recorded

    # It takes the lease once it expires, the subscription once the claim expires.
    second = scheduler(migrated, tmp_path / "second.log")
    try:
        wait_for(lambda: {r["headers"]["X-Feedback-Delivery"] for r in receiver.acknowledged()} >= set(expected),
                 90, "every event to arrive after the restart")
        wait_for(lambda: delivered_ids() == set(expected), 10, "the last acknowledgements to be recorded")
        time.sleep(1.5)  # a few more runs: nothing more goes out
    finally:
        end(second)

    sent = assert_all_arrived_in_order(receiver, sub["secret"], expected)
    again = {event for event, n in sent.items() if n > 1}
    # Sent twice: exactly what the killed scheduler had sent without its acknowledgement on record, the request in
    # flight among them; each once more, by the scheduler that took over. Nothing else.
    assert again == set(before_kill) - recorded and before_kill[-1] in again
    assert all(n <= 2 for n in sent.values())
    assert len(receiver.requests) == len(expected) + len(again)
    fresh()
    statuses = db.session.execute(select(JobRun.status).where(JobRun.job == "deliver_events")).scalars().all()
    assert statuses.count("interrupted") == 1 and "failed" not in statuses  # the killed run is on record


def _stopped_outside_a_transaction(sub_id: int) -> bool:
    """Whether the rows a stopped scheduler could hold locked (the lease, the subscription's claim) are free."""
    end_unit_of_work()
    try:
        db.session.execute(text("SET LOCAL lock_timeout = '300ms'"))
        db.session.execute(select(SchedulerLease.name).with_for_update())
        db.session.execute(select(Subscription.id).where(Subscription.id == sub_id).with_for_update())
        return True
    except Exception:  # noqa: BLE001 - a lock timeout: it was stopped inside a transaction
        return False
    finally:
        end_unit_of_work()


@pytest.mark.slow
@pytest.mark.skipif(not ON_POSTGRES, reason="two schedulers on one database is a PostgreSQL deployment: on SQLite "
                    "one scheduler runs (run this file with TEST_DATABASE_URL=postgresql+psycopg://…)")
def test_two_schedulers_deliver_each_event_once_while_the_lease_moves(client, tokens, migrated, receiver, tmp_path):
    sub = subscribe(client, tokens, receiver.url)
    expected = make_events(client, tokens)
    stopped: dict = {}
    cut = threading.Event()
    cut_at = [CUT_AT]

    def stop_the_sender(entry, n):
        if n == cut_at[0]:  # the leader sent it and waits for the answer: stop it there
            os.kill(entry["sender"], signal.SIGSTOP)
            stopped.update(pid=entry["sender"], at=time.time(), event=entry["headers"]["X-Feedback-Delivery"])
            cut.set()

    receiver.hook = stop_the_sender
    procs = [scheduler(migrated, tmp_path / f"{n}.log") for n in ("a", "b")]  # whichever takes the lease first leads
    receiver.senders = tuple(p.pid for p in procs)
    try:
        for _ in range(5):
            assert cut.wait(60), "the leader did not deliver that far"
            if _stopped_outside_a_transaction(sub["id"]):
                break
            # Stopped while its heartbeat held the lease row: let it go on, stop it a few requests later.
            cut.clear()
            cut_at[0] = len(receiver.requests) + 3
            os.kill(stopped["pid"], signal.SIGCONT)
        else:
            pytest.fail("could not stop the leader outside a transaction")
        leader = stopped["pid"]
        [other] = [p.pid for p in procs if p.pid != leader]
        fresh()
        claim = db.session.get(Subscription, sub["id"])
        assert f":{leader}:" in claim.claimed_by  # the stopped leader's run still holds the subscription
        leader_holder, claimed_until = claim.claimed_by.rsplit(":", 1)[0], claim.claimed_until.timestamp()
        recorded = delivered_ids()
        end_unit_of_work()

        # The other scheduler takes the lease over and, once the stopped one's claim has expired, delivers the rest.
        wait_for(lambda: {r["headers"]["X-Feedback-Delivery"] for r in receiver.acknowledged()} >= set(expected),
                 90, "the other scheduler to deliver the rest")
        os.kill(leader, signal.SIGCONT)  # it finishes the request it was in, sees its time is up, and is fenced
        wait_for(lambda: delivered_ids() == set(expected), 10, "every delivery on record")
        time.sleep(3)
        assert all(p.poll() is None for p in procs)  # both alive: one leads, one stands by
    finally:
        for p in procs:
            end(p)

    sent = assert_all_arrived_in_order(receiver, sub["secret"], expected)
    by = {leader: [], other: []}
    for r in receiver.requests:
        by[r["sender"]].append(r)  # every request came from one of the two schedulers (KeyError otherwise)
    ids = {pid: [r["headers"]["X-Feedback-Delivery"] for r in rs] for pid, rs in by.items()}
    assert len(set(ids[leader])) == len(ids[leader]) and len(set(ids[other])) == len(ids[other])
    assert ids[leader] and ids[other]  # both delivered
    assert all(r["at"] < stopped["at"] + 0.01 for r in by[leader])  # nothing from it after it was stopped
    assert all(r["at"] >= claimed_until - 0.01 for r in by[other])  # nothing from the other before the claim expired
    again = {event for event, n in sent.items() if n > 1}
    assert again == set(ids[leader]) - recorded and stopped["event"] in again  # sent once more by the other
    assert all(n == 2 for n in (sent[e] for e in again))
    fresh()
    assert db.session.execute(select(JobRun.status).where(JobRun.job == "deliver_events", JobRun.holder == leader_holder)
                              .order_by(JobRun.id.desc()).limit(1)).scalar() == "fenced"
    assert f":{other}:" in scheduling.current_holder(), logs(tmp_path)  # the lease stayed with the other
