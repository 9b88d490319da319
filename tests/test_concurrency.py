"""Fifty clients at once on one case token, one set of walkthrough ids, one rectification item: exact counts,
every success recorded once, the losers told why (409/412), and never a 5xx or a "database is locked"."""
import random
import threading
import uuid
from collections import Counter

from sqlalchemy import func, select

from models import Finding, ItemEvent, Rating, RectificationItem, Walkthrough, db
from tests.helpers import API, register_case
from tests.rect_helpers import fresh, item_of_rating, make_rating, run

CLIENTS = 50
TABLE = {"verify": ({"pending"}, "rectifying"), "appeal": ({"pending", "rectifying"}, "appealed"),
         "uphold_appeal": ({"appealed"}, "dismissed"), "deny_appeal": ({"appealed"}, "rectifying"),
         "submit": ({"rectifying"}, "awaiting_acceptance"), "accept": ({"awaiting_acceptance"}, "closed"),
         "reject": ({"awaiting_acceptance"}, "rectifying"), "reopen": ({"closed"}, "rectifying")}
FIELDS = {"verify": {"resolution": "immediate"}, "appeal": {"note": "评价人当天未来办事，疑似恶意差评"},
          "uphold_appeal": {"note": "申诉成立"}, "deny_appeal": {"note": "申诉不成立"},
          "submit": {"measures": "增开窗口", "result": "排队缩短", "answered": True}, "reject": {"note": "措施不具体"},
          "reopen": {"note": "回头看"}}


def at_once(app, work) -> list[tuple[int, dict | None, str]]:
    """work(client, i) → response, run by CLIENTS threads released together, each with its own test client.
    An exception in a thread (a 500 under TESTING propagates) is kept as a 599 with its text."""
    barrier = threading.Barrier(CLIENTS)
    results: list = [None] * CLIENTS

    def worker(i):
        client = app.test_client()
        barrier.wait()
        try:
            response = work(client, i)
            results[i] = (response.status_code, response.get_json(silent=True), response.get_data(as_text=True))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below, with its text
            results[i] = (599, None, f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failures = [text for status, _, text in results if status >= 500]
    assert failures == [], failures[:3]
    assert not any("database is locked" in text for _, _, text in results)
    return results


def test_fifty_ratings_of_one_case_store_exactly_one(app, client, tokens):
    case = register_case(client, tokens["staff"])
    results = at_once(app, lambda c, i: c.post(f"{API}/ratings", json={
        "rating_token": case["rating_token"], "score": 1 + i % 5, "channel": "miniprogram"}))
    statuses = Counter(status for status, _, _ in results)
    assert statuses == {201: 1, 409: CLIENTS - 1}, statuses
    assert {body["code"] for status, body, _ in results if status == 409} == {"already_rated"}
    fresh()
    stored = db.session.execute(select(Rating.id, Rating.score)).all()
    winner = next(body for status, body, _ in results if status == 201)
    assert stored == [(winner["id"], winner["score"])]


def _walkthrough(wid: str, findings: int, summary: str = "等候偏长") -> dict:
    return {"id": wid, "hall": "HZ-XC", "item": "SB-001", "mode": "accompany",
            "observer": {"name": "王建国", "title": "副局长"}, "started_at": "2026-01-05T09:00:00+08:00",
            "summary": summary, "status": "draft",
            "findings": [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{wid}/{summary}/{k}")), "step": "wait",
                          "category": "efficiency", "description": f"问题 {k}", "severity": "low",
                          "needs_rectification": True} for k in range(findings)]}


def _stored_walkthroughs() -> tuple[int, int]:
    fresh()
    return (db.session.execute(select(func.count()).select_from(Walkthrough)).scalar_one(),
            db.session.execute(select(func.count()).select_from(Finding)).scalar_one())


def test_fifty_tablets_sync_the_same_records(app, tokens):
    batch = [_walkthrough(str(uuid.uuid4()), 3) for _ in range(8)]

    def tablet(client, i):
        mine = random.Random(i).sample(batch, len(batch))  # same records, each tablet in its own order
        return client.post(f"{API}/sync", json={"walkthroughs": mine}, headers=tokens["staff"])

    results = at_once(app, tablet)
    assert {status for status, _, _ in results} == {200}
    outcomes: dict[str, Counter] = {}
    for _, body, _ in results:
        for r in body["results"]:
            outcomes.setdefault(r["id"], Counter())[r["outcome"]] += 1
    assert outcomes == {w["id"]: Counter(created=1, unchanged=CLIENTS - 1) for w in batch}
    assert _stored_walkthroughs() == (8, 24)


def test_fifty_upserts_of_one_draft_leave_one_whole_version(app, tokens):
    """Different drafts of one id at once: one creation, the rest updates or unchanged, and what is stored is one
    of the versions sent, whole (its own findings, none of another version's)."""
    wid = str(uuid.uuid4())
    versions = [_walkthrough(wid, 1 + i % 4, summary=f"第 {i} 版") for i in range(CLIENTS)]
    results = at_once(app, lambda c, i: c.post(f"{API}/walkthroughs", json=versions[i], headers=tokens["staff"]))
    statuses = Counter(status for status, _, _ in results)
    assert statuses[201] == 1 and statuses[201] + statuses[200] == CLIENTS, statuses
    fresh()
    stored = db.session.execute(select(Walkthrough).where(Walkthrough.id == wid)).scalar_one()
    sent = [v for v in versions if v["summary"] == stored.summary]
    assert {f.id for f in stored.findings} == {f["id"] for f in sent[0]["findings"]}
    assert _stored_walkthroughs() == (1, len(sent[0]["findings"]))


def _chain_is_valid(events: list[tuple[str, str, str]]) -> bool:
    status = "pending"
    for action, before, after in events:
        sources, target = TABLE[action]
        if before != status or before not in sources or after != target:
            return False
        status = after
    return True


def _events_after_create(item_id: int) -> list[tuple[str, str, str]]:
    fresh()
    return [tuple(e) for e in db.session.execute(
        select(ItemEvent.action, ItemEvent.from_status, ItemEvent.to_status)
        .where(ItemEvent.item_id == item_id, ItemEvent.action != "create").order_by(ItemEvent.id)).all()]


def test_fifty_verifies_with_one_version_one_wins(app, tokens):
    rating = make_rating()
    run("collect_bad_ratings")
    item_id = item_of_rating(rating["id"]).id
    results = at_once(app, lambda c, i: c.post(
        f"{API}/rectifications/{item_id}/actions", json={"action": "verify", "resolution": "immediate"},
        headers={**tokens["staff"], "If-Match": "1"}))
    statuses = Counter(status for status, _, _ in results)
    assert statuses == {200: 1, 412: CLIENTS - 1}, statuses
    assert {body["current_version"] for status, body, _ in results if status == 412} == {2}
    assert _events_after_create(item_id) == [("verify", "pending", "rectifying")]
    assert (item_of_rating(rating["id"]).status, item_of_rating(rating["id"]).version) == ("rectifying", 2)


def test_fifty_mixed_actions_on_one_item_follow_the_table(app, tokens):
    """Every action of the table, half the clients with the If-Match they just read, half without: each success
    is one event on a valid path, no event is lost, and the version counts the successes."""
    rating = make_rating()
    run("collect_bad_ratings")
    item_id = item_of_rating(rating["id"]).id
    actions = sorted(TABLE)
    plan = [(actions[i % len(actions)], i % 2 == 0) for i in range(CLIENTS)]

    def client_action(client, i):
        action, with_version = plan[i]
        headers = dict(tokens["supervisor"])
        if with_version:
            current = client.get(f"{API}/rectifications/{item_id}", headers=headers).get_json()["version"]
            headers["If-Match"] = str(current)
        return client.post(f"{API}/rectifications/{item_id}/actions", json={"action": action, **FIELDS.get(action, {})},
                           headers=headers)

    results = at_once(app, client_action)
    by_status = Counter(status for status, _, _ in results)
    assert set(by_status) <= {200, 409, 412}, by_status
    assert all(plan[i][1] for i, (status, _, _) in enumerate(results) if status == 412)  # only If-Match clients
    events = _events_after_create(item_id)
    assert _chain_is_valid(events), events
    succeeded = Counter(plan[i][0] for i, (status, _, _) in enumerate(results) if status == 200)
    assert Counter(action for action, _, _ in events) == succeeded  # every success has its event, no other
    item = item_of_rating(rating["id"])
    assert item.version == 1 + sum(succeeded.values())
    assert item.status == (events[-1][2] if events else "pending")
    assert by_status[200] >= 1
    assert db.session.execute(select(func.count()).select_from(RectificationItem)).scalar_one() == 1


def test_fifty_answers_of_one_rater_count_once(app, client, tokens):
    """A rater's phone retrying the satisfaction answer (and changing its mind) at once: one answer is kept,
    its events are written once, every other request is a replay (same score) or already_answered."""
    rating = make_rating()
    run("collect_bad_ratings")
    item_id = item_of_rating(rating["id"]).id
    for action, extra in (("verify", {}), ("submit", {"answered": True})):
        response = client.post(f"{API}/rectifications/{item_id}/actions",
                               json={"action": action, **FIELDS[action], **extra}, headers=tokens["staff"])
        assert response.status_code == 200, response.get_json()
    results = at_once(app, lambda c, i: c.post(f"{API}/ratings/{rating['id']}/answer-satisfaction",
                                               query_string={"receipt": rating["receipt"]},
                                               json={"score": 1 + i % 5}))
    item = item_of_rating(rating["id"])
    kept = item.rater_satisfaction
    for i, (status, body, _) in enumerate(results):
        assert (status, 1 + i % 5 == kept) in ((200, True), (409, False)), (status, body)
        if status == 409:
            assert body["code"] == "already_answered"
    events = _events_after_create(item_id)
    expected = [("verify", "pending", "rectifying"), ("submit", "rectifying", "awaiting_acceptance"),
                ("answer_satisfaction", "awaiting_acceptance", "awaiting_acceptance")]
    if kept <= 2:  # an unhappy rater sends the item back to 整改, once
        expected.append(("reopen", "awaiting_acceptance", "rectifying"))
    assert events == expected
    assert item.version == 4
