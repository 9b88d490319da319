"""Idempotency-Key of POST /ratings (API.md 1.1): scoped to its client, kept on the rating it created, expiring
after IDEMPOTENCY_TTL_HOURS and cleared by the purge_expired job; the receipt's 201 is never cached."""
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update

from models import JobRun, RateLimitCounter, Rating, db
from service.timeutil import now
from tests.conftest import ON_POSTGRES
from tests.helpers import API, assert_problem, register_case

URL = f"{API}/ratings"
HALL = {"hall": "HZ-XC", "item": "SB-001", "window": "04", "score": 4, "channel": "qrcode", "tags": ["EFFICIENT"]}


def post(client, body, key=None, client_id=None, addr="203.0.113.7"):
    headers = {}
    if key:
        headers["Idempotency-Key"] = key
    if client_id:
        headers["X-Client-Id"] = client_id
    return client.post(URL, json=body, headers=headers, environ_base={"REMOTE_ADDR": addr})


def count(model=Rating, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def age(rating_id: int, hours: float) -> None:
    """The rating (and so its key) was made this many hours ago."""
    db.session.execute(update(Rating).where(Rating.id == rating_id).values(created_at=now() - timedelta(hours=hours)))
    db.session.commit()


def test_the_same_key_from_two_clients_is_two_ratings(client, demo):
    first = post(client, HALL, key="k-1", client_id="phone-a")
    other_client = post(client, HALL, key="k-1", client_id="phone-b")
    other_address = post(client, HALL, key="k-1", client_id="phone-a", addr="198.51.100.9")
    answers = [first, other_client, other_address]
    assert [r.status_code for r in answers] == [201, 201, 201]
    assert all("Idempotent-Replayed" not in r.headers for r in answers)
    assert len({r.get_json()["id"] for r in answers}) == 3
    assert len({r.get_json()["receipt"] for r in answers}) == 3
    assert count() == 3
    # Each client's retry gets its own first answer, never another client's receipt.
    for answer, (client_id, addr) in zip(answers, [("phone-a", "203.0.113.7"), ("phone-b", "203.0.113.7"),
                                                    ("phone-a", "198.51.100.9")], strict=True):
        again = post(client, HALL, key="k-1", client_id=client_id, addr=addr)
        assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == answer.get_json()
    assert count() == 3


def test_a_key_sent_with_a_rating_token_belongs_to_the_token(client, tokens):
    cases = [register_case(client, tokens["staff"]) for _ in range(2)]
    bodies = [{"rating_token": c["rating_token"], "score": 2, "channel": "miniprogram", "tags": ["QUEUE"]}
              for c in cases]
    first = post(client, bodies[0], key="same", addr="203.0.113.7")
    second = post(client, bodies[1], key="same", addr="203.0.113.7")  # same client and key, another token
    assert first.status_code == second.status_code == 201 and "Idempotent-Replayed" not in second.headers
    assert first.get_json()["id"] != second.get_json()["id"]
    # The phone changed network: another address, the same token and key — a retry, answered as the first time.
    moved = post(client, bodies[0], key="same", addr="198.51.100.9")
    assert moved.status_code == 201 and moved.headers["Idempotent-Replayed"] == "true"
    assert moved.get_json() == first.get_json()
    assert count() == 2


def test_a_replay_is_the_first_answer_and_uncacheable(client, demo):
    first = post(client, HALL, key="retry-1", client_id="phone-a")
    again = post(client, {**HALL, "tags": ["EFFICIENT"]}, key="retry-1", client_id="phone-a")
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert first.headers["Cache-Control"] == again.headers["Cache-Control"] == "no-store"
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert set(first.get_json()) == {"id", "receipt", "score", "level", "level_label", "is_bad", "created_at"}
    assert count() == 1
    reused = post(client, {**HALL, "score": 5}, key="retry-1", client_id="phone-a")
    assert_problem(reused, 409, "idempotency_key_reused")
    assert count() == 1


def test_an_expired_key_is_a_new_request(client, demo):
    first = post(client, HALL, key="old-key", client_id="phone-a").get_json()
    age(first["id"], 47)  # inside the default 48 hours: still a retry
    assert post(client, HALL, key="old-key", client_id="phone-a").headers.get("Idempotent-Replayed") == "true"
    age(first["id"], 49)
    again = post(client, HALL, key="old-key", client_id="phone-a")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != first["id"] and again.get_json()["receipt"] != first["receipt"]
    # Another body is no conflict either once the key expired; and the new rating owns the key now.
    age(again.get_json()["id"], 49)
    third = post(client, {**HALL, "score": 1, "tags": ["QUEUE"]}, key="old-key", client_id="phone-a")
    assert third.status_code == 201 and "Idempotent-Replayed" not in third.headers
    assert post(client, {**HALL, "score": 1, "tags": ["QUEUE"]}, key="old-key", client_id="phone-a") \
        .get_json() == third.get_json()
    assert count() == 3
    assert count(Rating, Rating.idempotency_key == "old-key") == 1


def test_the_ttl_is_configurable(app_factory):
    app = app_factory(IDEMPOTENCY_TTL_HOURS=1)
    with app.app_context():
        from service import catalog

        catalog.load_demo()
        client = app.test_client()
        first = post(client, HALL, key="k", client_id="c").get_json()
        age(first["id"], 1.1)
        assert post(client, HALL, key="k", client_id="c").get_json()["id"] != first["id"]


def test_the_purge_job_clears_expired_keys_and_old_counters(app, client, demo):
    expired = post(client, HALL, key="expired", client_id="phone-a").get_json()
    live = post(client, HALL, key="live", client_id="phone-a").get_json()
    age(expired["id"], 49)  # ratings come in id order: the older one has the lower id
    current_counters = count(RateLimitCounter)
    assert current_counters == 2  # per client and per address, this window
    long_ago = int(time.time()) - 7 * 24 * 3600
    db.session.add_all([RateLimitCounter(key="a" * 64, window_start=long_ago, count=3),
                        RateLimitCounter(key="b" * 64, window_start=long_ago - 600, count=1)])
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["jobs", "run", "purge_expired"])
    assert result.exit_code == 0, result.output
    run = db.session.execute(select(JobRun).where(JobRun.job == "purge_expired")).scalar_one()
    assert run.status == "ok" and run.counts == {"idempotency_keys": 1, "rate_limit_counters": 2}
    assert count(RateLimitCounter) == current_counters
    keys = dict(db.session.execute(select(Rating.id, Rating.idempotency_key)).all())
    assert keys == {live["id"]: "live", expired["id"]: None}
    assert db.session.scalar(select(Rating.request_hash).where(Rating.id == expired["id"])) is None
    # The live key still replays; the purged one is a new request.
    assert post(client, HALL, key="live", client_id="phone-a").headers["Idempotent-Replayed"] == "true"
    assert post(client, HALL, key="expired", client_id="phone-a").get_json()["id"] != expired["id"]
    # A second run finds nothing new to clear and keeps the live key.
    assert app.test_cli_runner().invoke(args=["jobs", "run", "purge_expired"]).exit_code == 0
    assert count(Rating, Rating.idempotency_key == "live") == 1


@pytest.mark.skipif(ON_POSTGRES, reason="counts SQLite's statements (sqlite3 trace callback)")
def test_a_rating_costs_six_statements(app, client, tokens):
    """The intake's cost, kept from creeping back: a hall rating with a key and tags is BEGIN, the rate-limit
    upsert, the rating (its key included), its tags in one INSERT, its outbox events (rating.created, and
    rating.bad for a 差评) in one executemany, COMMIT; a case rating reads its case (and whether it is rated)
    instead of counting a rate limit."""
    case = register_case(client, tokens["staff"])
    statements: list[str] = []

    @event.listens_for(db.engine, "connect")
    def trace(dbapi_connection, _record):
        dbapi_connection.set_trace_callback(statements.append)

    db.engine.dispose()
    # Fills the catalog cache (hall, item, window, tags), as any earlier rating would.
    post(client, {**HALL, "tags": ["EFFICIENT", "PATIENT"]}, key="warm", client_id="warm")
    statements.clear()
    assert post(client, {**HALL, "tags": ["EFFICIENT", "PATIENT"]}, key="counted").status_code == 201
    assert [s.split()[0] for s in statements] == ["BEGIN", "INSERT", "INSERT", "INSERT", "INSERT", "COMMIT"], statements
    statements.clear()
    by_case = {"rating_token": case["rating_token"], "score": 5, "channel": "device", "tags": ["EFFICIENT"]}
    assert post(client, by_case, key="case").status_code == 201
    assert [s.split()[0] for s in statements] == ["SELECT", "BEGIN", "INSERT", "INSERT", "INSERT", "COMMIT"], statements
    event.remove(db.engine, "connect", trace)
    db.engine.dispose()
