"""Delivery under faults, against a real receiver on 127.0.0.1: errors, timeouts, dropped connections, a receiver
down for a while; 410 Gone and deleted subscriptions; dead deliveries and the operator's retry; the provincial format."""
import time

import pytest
from flask import current_app
from sqlalchemy import select

from models import Delivery, OutboxEvent, db
from service import calendar_admin, deliverer
from service.timeutil import now
from tests.conftest import ON_POSTGRES
from tests.helpers import API
from tests.outbox_helpers import FAST, Receiver, deliver, deliver_until, verify
from tests.rect_helpers import act, fresh, item_of_rating, run
from tests.test_outbox import rate, subscribe


@pytest.fixture
def app(app_factory):
    app = app_factory(**FAST)
    with app.app_context():
        yield app


@pytest.fixture
def receivers():
    made = []

    def make():
        made.append(Receiver())
        return made[-1]

    yield make
    for r in made:
        try:
            r.close()
        except Exception:  # noqa: BLE001 - already down
            pass


def event_ids(subject_prefix="") -> list[str]:
    fresh()
    return [str(i) for i in db.session.execute(select(OutboxEvent.id).where(
        OutboxEvent.subject.startswith(subject_prefix)).order_by(OutboxEvent.id)).scalars()]


def subjects() -> dict[str, str]:
    fresh()
    return {str(i): s for i, s in db.session.execute(select(OutboxEvent.id, OutboxEvent.subject))}


def assert_complete_and_ordered(receiver: Receiver, secret: str, expected: list[str]):
    """Every event acknowledged exactly once; every request a signed copy of a known event; per subject, the
    acknowledgements in event order and no later event sent before an earlier one was acknowledged."""
    acked = receiver.acknowledged_ids()
    assert sorted(acked, key=int) == sorted(expected, key=int) and len(set(acked)) == len(acked)
    of = subjects()
    sent = [r["headers"]["X-Feedback-Delivery"] for r in receiver.requests]
    assert set(sent) <= set(expected)  # duplicates only as retries of the same event id
    for request in receiver.requests:
        assert verify(secret, request["headers"]["X-Feedback-Signature"], request["body"])
    done: set[str] = set()
    for request in receiver.requests:
        event = request["headers"]["X-Feedback-Delivery"]
        earlier = [e for e in expected if of[e] == of[event] and int(e) < int(event)]
        assert set(earlier) <= done, f"event {event} sent before {earlier} were acknowledged"
        if isinstance(request.get("status"), int) and 200 <= request["status"] < 300:
            done.add(event)


@pytest.mark.parametrize("fault", [500, "hang", "drop", "down"])
def test_every_event_arrives_once_in_order_after_a_fault(client, tokens, receivers, fault):
    receiver = receivers()
    sub = subscribe(client, tokens, receiver.url)
    for score in (1, 2, 5):
        rate(client, tokens, score=score)
    if fault == "down":
        receiver.down()
    else:
        receiver.behaviour = fault
    started = time.monotonic()
    for _ in range(3):
        deliver()
        time.sleep(0.3)
    assert time.monotonic() - started < 20  # each run is bounded: a dead receiver does not hold the job
    assert receiver.acknowledged() == []
    fresh()
    rows = db.session.execute(select(Delivery)).scalars().all()
    if fault == "down":
        # Not even connected: no attempt is spent and nothing backs off; the first delivery carries the error.
        assert all(d.status == "pending" and d.attempts == 0 for d in rows)
        assert "无法连接：ConnectionRefusedError" in {d.last_error for d in rows}
        runs = client.get(f"{API}/jobs", query_string={"job": "deliver_events"}, headers=tokens["admin"]).get_json()
        assert [r["counts"]["unreachable"] for r in runs["items"]] == [1, 1, 1]
        receiver.up()
    else:
        failed = [d for d in rows if d.status == "failed"]
        assert failed and all(d.attempts >= 1 and d.next_attempt_at is not None for d in failed)
    receiver.behaviour = "ok"
    expected = event_ids()
    started = time.monotonic()
    deliver_until(lambda: len(receiver.acknowledged()) >= len(expected))
    if fault == "down":
        assert time.monotonic() - started < 1.5  # back: everything goes out in the next run, nothing waits a backoff
    deliver()
    assert_complete_and_ordered(receiver, sub["secret"], expected)
    assert db.session.execute(select(Delivery.status).distinct()).scalars().all() == ["delivered"]


def test_a_gone_or_deleted_subscription_stops_and_the_others_go_on(client, tokens, receivers):
    gone, deleted, healthy = receivers(), receivers(), receivers()
    gone.behaviour = 410
    sub_gone = subscribe(client, tokens, gone.url, name="已下线")
    sub_deleted = subscribe(client, tokens, deleted.url, name="将删除")
    sub_ok = subscribe(client, tokens, healthy.url, name="正常")
    rate(client, tokens, score=1)
    deleted.behaviour = 500
    deliver()
    assert client.delete(f"{API}/subscriptions/{sub_deleted['id']}", headers=tokens["admin"]).status_code == 204
    deleted.behaviour = "ok"
    rate(client, tokens, score=2)
    expected = event_ids()
    deliver_until(lambda: len(healthy.acknowledged()) == len(expected))
    for _ in range(2):
        deliver()
        time.sleep(0.6)
    assert_complete_and_ordered(healthy, sub_ok["secret"], expected)
    assert len(gone.requests) == 1  # the 410 switched it off
    assert deleted.acknowledged() == []  # nothing after its deletion
    listed = client.get(f"{API}/subscriptions", headers=tokens["admin"]).get_json()["items"]
    assert {s["name"]: s["active"] for s in listed} == {"已下线": False, "正常": True}
    assert "410" in [s for s in listed if s["id"] == sub_gone["id"]][0]["disabled_reason"]


def test_a_dead_delivery_holds_its_subject_until_an_operator_retries_it(client, tokens, receivers, app):
    app.config["DELIVERY_MAX_ATTEMPTS"] = 2
    receiver = receivers()
    sub = subscribe(client, tokens, receiver.url)
    rate(client, tokens, score=1)  # rating.created then rating.bad, one subject
    receiver.behaviour = 500
    for _ in range(3):
        deliver()
        time.sleep(0.6)
    dead = client.get(f"{API}/deliveries", query_string={"status": "dead"}, headers=tokens["admin"]).get_json()
    assert len(dead["items"]) == 1 and dead["items"][0]["attempts"] == 2
    assert dead["items"][0]["last_status_code"] == 500 and dead["items"][0]["event_type"] == "rating.created"
    health = client.get(f"{API}/health").get_json()
    assert health["events"]["dead"] == 1 and health["events"]["pending"] == 1
    assert health["events"]["oldest_pending_seconds"] is not None
    receiver.behaviour = "ok"
    deliver()
    assert receiver.acknowledged() == []  # rating.bad waits behind its dead rating.created
    retried = client.post(f"{API}/deliveries/{dead['items'][0]['id']}/retry", headers=tokens["admin"])
    assert retried.status_code == 200 and retried.get_json()["status"] == "pending"
    again = client.post(f"{API}/deliveries/{dead['items'][0]['id']}/retry", headers=tokens["admin"])
    assert again.status_code == 409
    deliver_until(lambda: len(receiver.acknowledged()) == 2)
    assert_complete_and_ordered(receiver, sub["secret"], event_ids())
    assert client.get(f"{API}/health").get_json()["events"] == {"pending": 0, "dead": 0,
                                                                  "oldest_pending_seconds": None}


def test_a_slow_receiver_does_not_hold_up_the_others(client, tokens, receivers):
    slow, fast = receivers(), receivers()
    slow.behaviour = "hang"
    subscribe(client, tokens, slow.url, name="慢")
    sub = subscribe(client, tokens, fast.url, name="快")
    for _ in range(5):
        rate(client, tokens, score=1)
    started = time.monotonic()
    deliver()
    assert time.monotonic() - started < 8
    assert len(fast.acknowledged()) == 10  # all of them in the same run the slow one timed out
    # One request on each of its connections timed out (events of two subjects); the rest wait for the retry.
    connections = current_app.config["DELIVERY_CONNECTIONS"]
    sent = [r["headers"]["X-Feedback-Delivery"] for r in slow.requests]
    assert 1 <= len(sent) <= connections and len(set(sent)) == len(sent)
    assert_complete_and_ordered(fast, sub["secret"], event_ids())


@pytest.mark.parametrize("connections", [1, 2])
def test_a_batch_goes_out_over_several_connections_each_subject_in_order(client, tokens, receivers, connections):
    current_app.config["DELIVERY_CONNECTIONS"] = connections
    receiver = receivers()
    receiver.delay = 0.05  # each answer takes a while: a second connection sends meanwhile
    sub = subscribe(client, tokens, receiver.url)
    for score in (1, 2) * 6:
        rate(client, tokens, score=score)  # 12 subjects, two events each
    deliver()
    # Per subject, each event only after the one before it was acknowledged (and all of them, once, signed) ...
    assert_complete_and_ordered(receiver, sub["secret"], event_ids())
    assert receiver.most_in_flight == connections  # ... while the connections were answered at the same time


def test_the_provincial_format_maps_ratings_and_their_rectification_status(client, tokens, receivers):
    calendar_admin.import_package()
    receiver = receivers()
    sub = subscribe(client, tokens, receiver.url, ["rating.created", "rectification.status_changed"],
                    fmt="provincial", name="省好差评平台")
    rating = rate(client, tokens, score=1, tags=["QUEUE"])
    run("collect_bad_ratings")
    item = item_of_rating(rating["id"])
    assert act(client, tokens["staff"], item.id, "verify", resolution="immediate").status_code == 200
    deliver_until(lambda: len(receiver.acknowledged()) == 2)
    first, second = (r["json"] for r in receiver.acknowledged())
    assert verify(sub["secret"], receiver.acknowledged()[0]["headers"]["X-Feedback-Signature"],
                  receiver.acknowledged()[0]["body"])
    assert first["评价编号"] == f"HZ-XC-{rating['id']}" and first["办件编号"] == rating["case"]["request"]["case_no"]
    assert first["评价等级"] == "1" and first["评价渠道"] == "2" and first["评价标签"] == ["QUEUE"]
    assert first["事项编码"] == "SB-001" and first["事项名称"]
    assert first["评价对象"]["大厅编码"] == "HZ-XC" and first["评价对象"]["窗口编号"] == "04"
    assert len(first["评价时间"]) == 19
    assert second["评价编号"] == first["评价编号"] and second["整改状态"] == "2" and second["整改状态名称"] == "整改中"
    for body in (first, second):
        assert "张三" not in str(body) and "13812345678" not in str(body) and "排队太久" not in str(body)
    # Only what the platform knows can be subscribed in its format.
    refused = client.post(f"{API}/subscriptions", headers=tokens["admin"], json={
        "name": "x", "url": receiver.url, "events": ["walkthrough.submitted"], "format": "provincial"})
    assert refused.status_code == 422


def test_subjects_held_back_do_not_hold_up_the_others_even_beyond_a_batch(client, tokens, receivers, app):
    """More subjects waiting for their retry than a batch holds: the events of the other subjects still go out."""
    app.config.update(DELIVERY_BATCH=2, DELIVERY_BACKOFF_BASE_SECONDS=60, DELIVERY_BACKOFF_MAX_SECONDS=60)
    receiver = receivers()
    sub = subscribe(client, tokens, receiver.url)
    for _ in range(3):
        rate(client, tokens, score=5)  # three subjects, one event each
    receiver.behaviour = 500
    for _ in range(3):
        deliver()
    held = event_ids()
    fresh()
    assert db.session.execute(select(Delivery.status)).scalars().all() == ["failed"] * 3  # retries in a minute
    receiver.behaviour = "ok"
    for _ in range(3):
        rate(client, tokens, score=5)
    deliver()
    later = [e for e in event_ids() if e not in held]
    assert receiver.acknowledged_ids() == later
    assert all(verify(sub["secret"], r["headers"]["X-Feedback-Signature"], r["body"]) for r in receiver.requests)


def test_a_failure_recorded_late_never_undoes_a_delivery(client, tokens, receivers):
    """A deliverer paused past its claim may record a failed attempt after the one that took over recorded the
    delivery: the delivery stays delivered and is not sent again."""
    receiver = receivers()
    subscribe(client, tokens, receiver.url)
    rate(client, tokens, score=5)
    deliver()
    fresh()
    [d] = db.session.execute(select(Delivery)).scalars().all()
    assert d.status == "delivered"
    assert deliverer._record_failure(d.id, d.subscription_id, None, "超时（1 秒）") == "delivered"
    fresh()
    assert db.session.get(Delivery, d.id).status == "delivered"
    deliver()
    assert len(receiver.requests) == 1


def test_the_fan_out_commits_chunk_by_chunk_and_loses_no_event_at_the_edges(client, tokens, receivers, monkeypatch):
    """On SQLite a backlog is fanned out a chunk of event ids per write transaction (so the intake is not held up
    by one long INSERT); events on either side of each chunk's edge all get their delivery, once. (PostgreSQL
    takes the ended transactions' events in one statement.)"""
    monkeypatch.setattr(deliverer, "FANOUT_CHUNK", 2)
    receiver = receivers()
    sub = subscribe(client, tokens, receiver.url)
    for score in (1, 5, 2, 4, 1):
        rate(client, tokens, score=score)
    expected = event_ids()
    assert len(expected) >= 7  # a 差评 is two events: several chunk edges
    commits = []
    monkeypatch.setattr(deliverer, "_fan_out_range", lambda *a, _f=deliverer._fan_out_range: commits.append(a) or _f(*a))
    first = deliver()
    assert first.counts["deliveries_created"] == len(expected)
    assert len(commits) == (1 if ON_POSTGRES else -(-len(expected) // 2))  # one transaction per chunk of 2 ids
    deliver_until(lambda: len(receiver.acknowledged()) >= len(expected))
    assert deliver().counts["deliveries_created"] == 0
    assert_complete_and_ordered(receiver, sub["secret"], expected)
    fresh()
    assert sorted(str(i) for i in db.session.execute(select(Delivery.event_id)).scalars()) == sorted(expected)


@pytest.mark.skipif(not ON_POSTGRES, reason="on SQLite one writer at a time: an event's id order is its commit "
                    "order (run this file with TEST_DATABASE_URL=postgresql+psycopg://…)")
def test_an_event_committed_after_later_ids_is_still_delivered(client, tokens, receivers):
    """On PostgreSQL an id comes from a sequence when the row is written, so a long transaction (a job turning
    thousands of 差评 into items) commits its events after others with higher ids were committed and fanned out.
    Its events must still go out, however many ids came in between."""
    receiver = receivers()
    sub = subscribe(client, tokens, receiver.url, ["rating.created"])
    with db.engine.connect() as held:
        held.begin()
        late = held.execute(OutboxEvent.__table__.insert().returning(OutboxEvent.id), [{
            "type": "rating.created", "key": "rating.created:late", "subject": "rating:late", "hall_code": None,
            "occurred_at": now(), "data": {"note": "一个长事务里的事件"}}]).scalar_one()
        rate(client, tokens, score=5)
        # More ids than any look-back below a cursor would cover, all committed before the late one.
        db.session.execute(OutboxEvent.__table__.insert(), [
            {"type": "walkthrough.submitted", "key": f"walkthrough.submitted:filler-{i}", "subject": f"walk:{i}",
             "hall_code": None, "occurred_at": now(), "data": {}} for i in range(3000)])
        db.session.commit()
        deliver()  # the fan-out runs while the long transaction is still open
        held.commit()
    deliver_until(lambda: str(late) in receiver.acknowledged_ids())
    assert sorted(receiver.acknowledged_ids(), key=int) == sorted(event_ids("rating:"), key=int)
    assert_complete_and_ordered(receiver, sub["secret"], event_ids("rating:"))
