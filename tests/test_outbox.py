"""The transactional outbox: every change writes its event in its own transaction, once, without personal data;
the deliver_events job POSTs them, signed, to a real HTTP receiver."""
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from models import OutboxEvent, Rating, RectificationItem, db
from service import calendar_admin, delivery, rectification_actions, workdays
from service.sqlutil import PlainStatements
from service.timeutil import local_date, now
from tests.helpers import API, register_case
from tests.outbox_helpers import FAST, Receiver, deliver, deliver_until, verify
from tests.rect_helpers import act, count, fresh, item_of_rating, make_walkthrough, run


@pytest.fixture
def app(app_factory):
    app = app_factory(**FAST)
    with app.app_context():
        yield app


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def events(type_=None) -> list[OutboxEvent]:
    fresh()
    stmt = select(OutboxEvent).order_by(OutboxEvent.id)
    if type_:
        stmt = stmt.where(OutboxEvent.type == type_)
    return list(db.session.execute(stmt).scalars())


def subscribe(client, tokens, url, events_=None, fmt="webhook", name="部门系统") -> dict:
    body = {"name": name, "url": url, "events": events_ or list(delivery.outbox.TYPES), "format": fmt}
    response = client.post(f"{API}/subscriptions", json=body, headers=tokens["admin"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def rate(client, tokens, score=1, comment="窗口排队太久", **extra):
    case = register_case(client, tokens["staff"], window="04")
    body = {"rating_token": case["rating_token"], "score": score, "channel": "miniprogram", "comment": comment,
            "anonymous": False, "name": "张三", "phone": "13812345678", **extra}
    response = client.post(f"{API}/ratings", json=body)
    assert response.status_code == 201, response.get_json()
    return {**response.get_json(), "case": case}


def test_a_bad_rating_writes_created_and_bad_events_without_personal_data(client, tokens):
    rating = rate(client, tokens, score=1, tags=["QUEUE"])
    found = events()
    assert [e.type for e in found] == ["rating.created", "rating.bad"]
    assert found[0].data["rating_id"] == rating["id"] and found[0].data["score"] == 1
    assert found[0].subject == f"rating:{rating['id']}"
    text = json.dumps([e.data for e in found], ensure_ascii=False)
    for secret in ("张三", "13812345678", "5678", "排队太久", rating["receipt"], rating["case"]["rating_token"]):
        assert secret not in text
    rate(client, tokens, score=5)
    assert [e.type for e in events()][-1] == "rating.created"


def test_a_rolled_back_change_leaves_no_event(client, tokens, monkeypatch):
    case = register_case(client, tokens["staff"])
    body = {"rating_token": case["rating_token"], "score": 2, "channel": "miniprogram"}
    # The intake fails after the rating and its events were written (at its commit): all roll back.
    monkeypatch.setattr(PlainStatements, "commit", lambda self: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        client.post(f"{API}/ratings", json=body, headers={"Idempotency-Key": "k1"})
    assert events() == [] and count(Rating) == 0
    monkeypatch.undo()
    assert client.post(f"{API}/ratings", json=body).status_code == 201
    assert [e.type for e in events()] == ["rating.created", "rating.bad"]
    assert client.post(f"{API}/ratings", json=body).status_code == 409  # refused: no third event
    assert len(events()) == 2
    # An action that fails after its event was written leaves neither the change nor the event.
    calendar_admin.import_package()
    run("collect_bad_ratings")
    item = db.session.execute(select(RectificationItem)).scalar_one()
    monkeypatch.setattr(rectification_actions, "mark_changed", lambda stamp: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        act(client, tokens["staff"], item.id, "verify", resolution="immediate")
    assert events("rectification.status_changed") == []
    monkeypatch.undo()
    assert act(client, tokens["staff"], item.id, "verify", resolution="immediate").status_code == 200
    assert len(events("rectification.status_changed")) == 1


def test_jobs_and_actions_write_one_event_per_change(client, tokens):
    calendar_admin.import_package()
    rating = rate(client, tokens, score=1)
    run("collect_bad_ratings")
    run("collect_bad_ratings")  # a second run writes no second event
    created = events("rectification.created")
    assert len(created) == 1 and created[0].subject == f"rating:{rating['id']}"
    item = item_of_rating(rating["id"])
    assert act(client, tokens["staff"], item.id, "verify", resolution="immediate").status_code == 200
    assert act(client, tokens["staff"], item.id, "submit", measures="加开窗口", result="已整改",
               answered=True).status_code == 200
    assert act(client, tokens["supervisor"], item.id, "accept").status_code == 200
    changed = events("rectification.status_changed")
    assert [(e.data["from"], e.data["status"]) for e in changed] == [
        ("pending", "rectifying"), ("rectifying", "awaiting_acceptance"), ("awaiting_acceptance", "closed")]
    assert len(events("rectification.closed")) == 1
    # A refused action (wrong state) writes nothing.
    assert act(client, tokens["supervisor"], item.id, "accept").status_code == 409
    assert len(events("rectification.status_changed")) == 3
    walk = make_walkthrough()
    run("build_walkthrough_lists")
    assert len(events("rectification.created")) == 2
    assert events("rectification.created")[1].subject.startswith("item:")
    assert walk.id  # made straight in the table: its submission event comes from the service paths (below)


def test_overdue_and_due_soon_are_once_per_deadline(client, tokens):
    calendar_admin.import_package()
    late = rate(client, tokens, score=2)
    soon = rate(client, tokens, score=1)
    run("collect_bad_ratings")
    today = local_date(now())
    db.session.execute(update(RectificationItem).where(RectificationItem.source_id == str(late["id"]))
                       .values(due_date=today - timedelta(days=3)))
    db.session.execute(update(RectificationItem).where(RectificationItem.source_id == str(soon["id"]))
                       .values(due_date=today))
    db.session.commit()
    for _ in range(2):
        run("flag_overdue")
        run("flag_due_soon")
    assert [e.data["item_id"] for e in events("rectification.overdue")] == [item_of_rating(late["id"]).id]
    due_soon = events("rectification.due_soon")
    workday = workdays.load(today).is_workday(today)
    assert len(due_soon) == (1 if workday else 0)


def test_walkthrough_submission_writes_one_event(client, tokens):
    import uuid  # noqa: I001 - local to this test

    wid = str(uuid.uuid4())
    body = {"id": wid, "hall": "HZ-XC", "item": "SB-001", "mode": "accompany", "observer": {"name": "李科长"},
            "started_at": "2026-01-05T09:00:00+08:00", "status": "draft", "citizen": {"name": "王五"},
            "findings": [{"id": str(uuid.uuid4()), "step": "wait", "category": "efficiency", "description": "叫号慢",
                          "severity": "medium", "needs_rectification": True}]}
    assert client.post(f"{API}/walkthroughs", json=body, headers=tokens["staff"]).status_code == 201
    assert events("walkthrough.submitted") == []
    for _ in range(2):
        assert client.post(f"{API}/walkthroughs/{wid}/submit", headers=tokens["staff"]).status_code == 200
    (event,) = events("walkthrough.submitted")
    assert event.data["findings"] == 1 and event.data["needs_rectification"] == 1
    assert "王五" not in json.dumps(event.data, ensure_ascii=False) and "李科长" not in json.dumps(
        event.data, ensure_ascii=False)
    # Through a tablet sync, submitted at once.
    other = {**body, "id": str(uuid.uuid4()), "status": "submitted",
             "findings": [{**body["findings"][0], "id": str(uuid.uuid4())}]}
    assert client.post(f"{API}/sync", json={"walkthroughs": [other]}, headers=tokens["staff"]).status_code == 200
    assert client.post(f"{API}/sync", json={"walkthroughs": [other]}, headers=tokens["staff"]).status_code == 200
    assert len(events("walkthrough.submitted")) == 2


def test_events_are_delivered_signed_to_a_real_receiver(client, tokens, receiver):
    sub = subscribe(client, tokens, receiver.url)
    assert sub["secret"].startswith("whsec_") and sub["active"] is True
    rating = rate(client, tokens, score=1)
    rate(client, tokens, score=4)
    deliver_until(lambda: len(receiver.acknowledged()) == 3)
    got = receiver.acknowledged()
    for request in got:
        headers = request["headers"]
        assert verify(sub["secret"], headers["X-Feedback-Signature"], request["body"])
        assert not verify("whsec_wrong", headers["X-Feedback-Signature"], request["body"])
        assert headers["X-Feedback-Event"] == request["json"]["type"]
        assert headers["X-Feedback-Delivery"] == request["json"]["id"]
        assert set(request["json"]) == {"id", "type", "occurred_at", "hall", "data"}
    assert [r["json"]["type"] for r in got] == ["rating.created", "rating.bad", "rating.created"]
    assert got[0]["json"]["data"]["rating_id"] == rating["id"] and got[0]["json"]["hall"] == "HZ-XC"
    assert count(OutboxEvent) == 3
    deliver()  # nothing more to send
    assert len(receiver.requests) == 3
    listed = client.get(f"{API}/deliveries", query_string={"status": "delivered"}, headers=tokens["admin"])
    assert listed.status_code == 200 and len(listed.get_json()["items"]) == 3
    assert listed.get_json()["items"][0]["attempts"] == 1 and listed.get_json()["items"][0]["last_status_code"] == 200


def test_a_subscription_gets_only_its_event_types_and_only_new_events(client, tokens, receiver):
    rate(client, tokens, score=1)  # before the subscription: not sent
    subscribe(client, tokens, receiver.url, ["rating.bad"])
    rate(client, tokens, score=5)
    bad = rate(client, tokens, score=2)
    deliver_until(lambda: len(receiver.acknowledged()) == 1)
    deliver()
    assert [(r["json"]["type"], r["json"]["data"]["rating_id"]) for r in receiver.requests] == [
        ("rating.bad", bad["id"])]


def test_the_cli_adds_lists_disables_and_retries(app, demo, receiver):
    runner = app.test_cli_runner()
    added = runner.invoke(args=["subscriptions", "add", "--name", "区数据局", "--url", receiver.url,
                                "--events", "rating.created,rating.bad"])
    assert added.exit_code == 0, added.output
    assert "whsec_" in added.output
    assert "区数据局" in runner.invoke(args=["subscriptions", "list"]).output
    bad = runner.invoke(args=["subscriptions", "add", "--name", "x", "--url", receiver.url, "--events", "nope"])
    assert bad.exit_code != 0 and "未知的事件类型" in bad.output
    sub_id = int(added.output.split()[1].split("（")[0])
    listed = runner.invoke(args=["deliveries", "list"])
    assert listed.exit_code == 0
    assert runner.invoke(args=["deliveries", "retry", "999"]).exit_code != 0
    assert runner.invoke(args=["subscriptions", "disable", str(sub_id)]).exit_code == 0
    assert "停用" in runner.invoke(args=["subscriptions", "list"]).output


def test_a_closed_list_writes_one_event_per_closing(app, demo):
    make_walkthrough(findings=((False, "指引清楚"),))  # nothing to rectify: its list closes at once
    run("build_walkthrough_lists")
    for _ in range(2):
        run("close_finished_lists")
    (closed,) = events("list.closed")
    assert closed.subject.startswith("list:") and closed.data["source"] == "walkthrough"
    assert closed.hall_code == "HZ-XC"
