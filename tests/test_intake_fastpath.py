"""The intake fast path (api.ratings.IntakeFastPath) in front of Flask: every POST /ratings gets exactly the answer the
Flask route gives (status, headers, body), whichever of the two answers it, and what the fast path leaves to Flask
reaches Flask with its body intact and nothing written."""
import itertools

import pytest
from sqlalchemy import func, select

from api.ratings import IntakeFastPath
from models import IdempotencyKey, RateLimitCounter, Rating, db
from tests.helpers import API, register_case

URL = f"{API}/ratings"
GOOD = {"hall": "HZ-XC", "item": "SB-001", "window": "04", "score": 5, "channel": "miniprogram",
        "tags": ["EFFICIENT", "PATIENT"], "comment": "窗口人员很耐心"}
_keys = itertools.count(1)


class Counted:
    """Wraps the app behind the fast path, counting the requests that reached Flask."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.inner(environ, start_response)


@pytest.fixture
def pair(app, app_factory, tokens):
    """(fast, flask_only, staff headers): two apps on the same database, one with the fast path in front."""
    fast = app.wsgi_app
    assert isinstance(fast, IntakeFastPath)
    behind = fast.wsgi_app = Counted(fast.wsgi_app)
    flask_only = app_factory(RATING_FAST_PATH=False)
    assert not isinstance(flask_only.wsgi_app, IntakeFastPath)
    return app.test_client(), behind, flask_only.test_client(), tokens["staff"]


def _stored():
    return tuple(db.session.scalar(select(func.count()).select_from(table))
                 for table in (Rating, IdempotencyKey, RateLimitCounter))


def _normal(response) -> tuple:
    """What must be equal between the two paths: ids, receipts and times differ between two real ratings."""
    body = response.get_json(silent=True)
    if isinstance(body, dict):
        body = {k: ("<varies>" if k in ("id", "receipt", "created_at") else v) for k, v in body.items()}
        body = (list(body), body)  # the key order too
    headers = sorted((k, v) for k, v in response.headers.items() if k != "Content-Length")
    return response.status_code, headers, body


def _both(pair, *, expect_fast: bool, keyed: bool = False, **request):
    """Sends the same request to both apps (with an Idempotency-Key of its own for each when keyed); returns the
    fast app's response after checking that the two agree."""
    client, behind, flask_only, _ = pair
    before = behind.calls
    if keyed:
        request["headers"] = {**request.get("headers", {}), "Idempotency-Key": _key()}
    answered = client.post(URL, **request)
    assert (behind.calls == before) is expect_fast, "fast path answered" if not expect_fast else "Flask answered"
    if keyed:
        request["headers"]["Idempotency-Key"] = _key()
    assert _normal(answered) == _normal(flask_only.post(URL, **request))
    return answered


def _key():
    return f"fast-path-{next(_keys)}"


def test_a_good_rating_is_answered_before_flask_exactly_as_flask_would(pair):
    first = _both(pair, expect_fast=True, keyed=True, json=GOOD)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    assert first.headers["X-Content-Type-Options"] == "nosniff" and "Cache-Control" not in first.headers
    assert _both(pair, expect_fast=True, json={**GOOD, "tags": []}).status_code == 201  # without a key
    # A bearer token is not needed here, but a response to a request carrying one is private, on both paths.
    carried = _both(pair, expect_fast=True, json=GOOD, headers={"Authorization": "Bearer not-needed"})
    assert carried.headers["Cache-Control"] == "private, no-store"
    named = {"hall": "HZ-XC", "score": 1, "channel": "qrcode", "anonymous": False, "name": "张三",
             "phone": "13812345678", "tags": ["QUEUE"]}
    assert _both(pair, expect_fast=True, json=named, headers={"X-Client-Id": "tablet-7"}).status_code == 201


def test_a_replay_and_a_reused_key_are_answered_alike(pair):
    client, behind, flask_only, _ = pair
    fast_key, flask_key = _key(), _key()
    assert client.post(URL, json=GOOD, headers={"Idempotency-Key": fast_key}).status_code == 201
    assert flask_only.post(URL, json=GOOD, headers={"Idempotency-Key": flask_key}).status_code == 201
    stored = _stored()
    calls = behind.calls
    replay = [client.post(URL, json=GOOD, headers={"Idempotency-Key": fast_key}),
              flask_only.post(URL, json=GOOD, headers={"Idempotency-Key": flask_key})]
    assert behind.calls == calls
    assert [r.headers.get("Idempotent-Replayed") for r in replay] == ["true", "true"]
    assert _normal(replay[0]) == _normal(replay[1])
    reused = [client.post(URL, json={**GOOD, "score": 4}, headers={"Idempotency-Key": fast_key}),
              flask_only.post(URL, json={**GOOD, "score": 4}, headers={"Idempotency-Key": flask_key})]
    assert [r.get_json()["code"] for r in reused] == ["idempotency_key_reused"] * 2
    assert _normal(reused[0]) == _normal(reused[1])
    assert _stored() == stored


def test_a_case_rated_twice_is_refused_alike(pair):
    client, _, flask_only, staff = pair
    tokens = [register_case(client, staff)["rating_token"] for _ in range(2)]
    body = {"score": 2, "channel": "miniprogram", "tags": ["QUEUE"]}
    answers = [client.post(URL, json={**body, "rating_token": tokens[0]}),
               flask_only.post(URL, json={**body, "rating_token": tokens[1]})]
    assert [r.status_code for r in answers] == [201, 201]
    assert _normal(answers[0]) == _normal(answers[1])
    stored = _stored()
    again = _both(pair, expect_fast=True, json={**body, "rating_token": tokens[0]})
    assert again.get_json()["code"] == "already_rated"
    assert _stored() == stored


@pytest.mark.parametrize("request_", [
    {"json": {**GOOD, "hall": "NOPE"}},  # unknown hall (the service's 422)
    {"json": {**GOOD, "tags": ["EFFICIENT", "QUEUE"], "score": 5}},  # a bad-only tag on praise
    {"json": {"hall": "HZ-XC", "score": 1, "channel": "web", "anonymous": False}},  # a named 差评 without a phone
    {"json": {"score": 3, "channel": "web"}},  # neither token nor hall
    {"json": {"rating_token": "forged", "score": 3, "channel": "web"}},
    {"json": GOOD, "headers": {"Idempotency-Key": "x" * 65}},  # the service's 400
], ids=["hall", "tag", "phone", "nothing", "token", "key"])
def test_the_services_refusals_are_answered_before_flask_alike(pair, request_):
    stored = _stored()
    answered = _both(pair, expect_fast=True, **request_)
    assert answered.status_code in (400, 422) and answered.mimetype == "application/problem+json"
    assert _stored() == stored


@pytest.mark.parametrize("request_", [
    {"json": {**GOOD, "score": 6}},  # the schema's 422
    {"json": {**GOOD, "unknown": 1}},
    {"json": [GOOD]},
    {"json": {**GOOD, "comment": "a\u0000b"}},
    {"data": b'{"hall": "HZ-XC", ', "content_type": "application/json"},  # malformed
    {"data": b'{"hall": "HZ-XC"}', "content_type": "text/plain"},
    {"data": b"", "content_type": "application/json"},
    {"json": GOOD, "query_string": {"hall": "HZ-XC"}},  # unknown query parameter
    {"json": GOOD, "headers": {"Origin": "https://example.org"}},  # CORS is Flask's
    {"data": b"x" * (64 * 1024 + 1), "content_type": "application/json"},  # 413
], ids=["score", "unknown-field", "array", "nul", "malformed", "text", "empty", "query", "origin", "oversize"])
def test_what_the_fast_path_leaves_reaches_flask_whole(pair, request_):
    stored = _stored()
    answered = _both(pair, expect_fast=False, **request_)
    if "Origin" not in request_.get("headers", {}):
        assert 400 <= answered.status_code < 500 and answered.mimetype == "application/problem+json"
        assert _stored() == stored
    else:
        assert answered.status_code == 201  # Flask took it, body and all


def test_the_rate_limit_is_answered_alike_and_counts_nothing_refused(app_factory, tokens):
    limited = {"RATE_LIMIT_ANON_RATINGS": (2, 600)}
    fast_app, flask_app = app_factory(**limited), app_factory(RATING_FAST_PATH=False, **limited)
    answers = []
    for app, client_id in ((fast_app, "fast-client"), (flask_app, "flask-client")):
        client = app.test_client()
        answers.append([client.post(URL, json=GOOD, headers={"X-Client-Id": client_id}) for _ in range(4)])
    assert [r.status_code for r in answers[0]] == [201, 201, 429, 429]
    assert _normal(answers[0][2]) == _normal(answers[1][2])
    assert 0 < int(answers[0][3].headers["Retry-After"]) <= 600
    with fast_app.app_context():
        counts = db.session.scalars(select(RateLimitCounter.count)).all()
    assert sorted(counts) == [2, 2, 4]  # per client twice each; per address (both clients) four times
