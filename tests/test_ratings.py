"""好差评 intake: every rule of the contract, retries and races that must never double-count, privacy, scope."""
import logging
import math
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, text

from models import HallItem, RateLimitCounter, Rating, db
from tests.helpers import API, assert_problem, register_case

LEVELS = {5: ("very_satisfied", "非常满意"), 4: ("satisfied", "满意"), 3: ("basically_satisfied", "基本满意"),
          2: ("dissatisfied", "不满意"), 1: ("very_dissatisfied", "非常不满意")}


def rating_count() -> int:
    db.session.expire_all()
    return db.session.execute(select(func.count()).select_from(Rating)).scalar_one()


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
def test_levels_and_bad_flag(client, tokens, score):
    case = register_case(client, tokens["staff"])
    response = client.post(f"{API}/ratings", json={"rating_token": case["rating_token"], "score": score,
                                                   "channel": "miniprogram"})
    assert response.status_code == 201
    body = response.get_json()
    assert (body["level"], body["level_label"]) == LEVELS[score]
    assert body["is_bad"] is (score <= 2)
    assert body["receipt"] and body["id"]
    assert set(body) == {"id", "receipt", "score", "level", "level_label", "is_bad", "created_at"}


def test_case_fields_come_from_the_case(client, tokens):
    case = register_case(client, tokens["staff"], window="04", staff_no="S042")
    created = client.post(f"{API}/ratings", json={"rating_token": case["rating_token"], "score": 4,
                                                  "channel": "device", "tags": ["EFFICIENT"]}).get_json()
    view = client.get(f"{API}/ratings/{created['id']}", query_string={"receipt": created["receipt"]}).get_json()
    assert (view["hall"], view["item"], view["window"], view["staff_no"]) == ("HZ-XC", "SB-001", "04", "S042")
    assert view["tags"] == ["EFFICIENT"] and view["rectification"] is None
    mismatch = client.post(f"{API}/ratings", json={"rating_token": register_case(client, tokens["staff"])[
        "rating_token"], "hall": "HZ-XC-HB", "score": 4, "channel": "web"})
    assert "hall" in assert_problem(mismatch, 422)["errors"]


def test_one_rating_per_case(client, tokens):
    case = register_case(client, tokens["staff"])
    body = {"rating_token": case["rating_token"], "score": 5, "channel": "miniprogram"}
    assert client.post(f"{API}/ratings", json=body).status_code == 201
    assert_problem(client.post(f"{API}/ratings", json={**body, "score": 1}), 409, "already_rated")
    assert rating_count() == 1


def test_rating_window_closes_after_seven_days(client, tokens):
    old = (datetime.now(UTC) - timedelta(days=7, minutes=1)).isoformat()
    case = register_case(client, tokens["staff"], completed_at=old)
    response = client.post(f"{API}/ratings", json={"rating_token": case["rating_token"], "score": 5, "channel": "web"})
    assert_problem(response, 409, "rating_window_closed")
    fresh = register_case(client, tokens["staff"], completed_at=(datetime.now(UTC) - timedelta(days=6)).isoformat())
    assert client.post(f"{API}/ratings", json={"rating_token": fresh["rating_token"], "score": 5,
                                               "channel": "web"}).status_code == 201


def test_unknown_token_and_missing_hall(client, demo):
    assert_problem(client.post(f"{API}/ratings", json={"rating_token": "forged", "score": 5, "channel": "web"}), 422,
                   "invalid_rating_token")
    problem = assert_problem(client.post(f"{API}/ratings", json={"score": 5, "channel": "web"}), 422)
    assert "hall" in problem["errors"]
    problem = assert_problem(client.post(f"{API}/ratings", json={"hall": "NOPE", "score": 5, "channel": "web"}), 422)
    assert "hall" in problem["errors"]


@pytest.mark.parametrize("score", [0, 6, "5", 4.5, True, None, -1])
def test_score_must_be_an_integer_from_1_to_5(client, demo, score):
    problem = assert_problem(client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": score, "channel": "web"}),
                             422, "validation_error")
    assert problem["errors"]["score"] == ["评分必须是 1 到 5 之间的整数"]
    assert problem["detail"] == "评分必须是 1 到 5 之间的整数"
    assert rating_count() == 0


def test_channel_tags_and_comment_are_validated(client, demo):
    base = {"hall": "HZ-XC", "score": 1, "channel": "web"}
    assert "channel" in assert_problem(client.post(f"{API}/ratings", json={**base, "channel": "fax"}), 422)["errors"]
    assert "tags" in assert_problem(client.post(f"{API}/ratings", json={**base, "tags": ["NOPE"]}), 422)["errors"]
    good_on_bad = assert_problem(client.post(f"{API}/ratings", json={**base, "tags": ["EFFICIENT"]}), 422)
    assert "效率高" in good_on_bad["errors"]["tags"][0]
    assert "tags" in assert_problem(client.post(f"{API}/ratings", json={**base, "score": 5, "tags": ["QUEUE"]}),
                                    422)["errors"]
    assert client.post(f"{API}/ratings", json={**base, "score": 3, "tags": ["QUEUE", "PATIENT"]}).status_code == 201
    too_long = assert_problem(client.post(f"{API}/ratings", json={**base, "comment": "慢" * 501}), 422)
    assert too_long["errors"]["comment"] == ["评价内容不能超过 500 个字"]
    assert client.post(f"{API}/ratings", json={**base, "comment": "慢" * 500}).status_code == 201
    assert rating_count() == 2


def test_named_bad_rating_needs_a_mobile_number(client, demo):
    base = {"hall": "HZ-XC", "score": 2, "channel": "miniprogram", "anonymous": False, "name": "李四"}
    assert "phone" in assert_problem(client.post(f"{API}/ratings", json=base), 422)["errors"]
    for wrong in ("12345678901", "1381234567", "+8613812345678", "138-1234-5678"):
        assert "phone" in assert_problem(client.post(f"{API}/ratings", json={**base, "phone": wrong}), 422)["errors"]
    # Anonymous 差评 and named praise need no number.
    assert client.post(f"{API}/ratings", json={**base, "anonymous": True}).status_code == 201
    assert client.post(f"{API}/ratings", json={**base, "score": 5}).status_code == 201


def test_personal_data_is_encrypted_and_masked(app, client, demo, caplog):
    caplog.set_level(logging.DEBUG)
    body = {"hall": "HZ-XC", "score": 1, "channel": "miniprogram", "anonymous": False, "name": "张三丰",
            "phone": "13812345678", "comment": "排队两个小时"}
    created = client.post(f"{API}/ratings", json=body).get_json()
    view = client.get(f"{API}/ratings/{created['id']}", query_string={"receipt": created["receipt"]}).get_json()
    assert view["phone"] == "138****5678" and view["name"] == "张**"
    raw = db.session.execute(text("SELECT * FROM ratings")).mappings().one()
    for value in raw.values():
        as_text = bytes(value).decode("latin-1") if isinstance(value, bytes | memoryview) else str(value)
        assert "13812345678" not in as_text and "张三丰" not in as_text
    assert "13812345678" not in caplog.text and "张三丰" not in caplog.text


def test_idempotency_key_replays_the_first_response(client, demo):
    body = {"hall": "HZ-XC", "score": 4, "channel": "qrcode"}
    headers = {"Idempotency-Key": "k-123"}
    first = client.post(f"{API}/ratings", json=body, headers=headers)
    second = client.post(f"{API}/ratings", json={"channel": "qrcode", "score": 4, "hall": "HZ-XC"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert first.headers["Cache-Control"] == second.headers["Cache-Control"] == "no-store"
    assert first.get_json() == second.get_json()
    assert rating_count() == 1
    assert_problem(client.post(f"{API}/ratings", json={**body, "score": 5}, headers=headers), 409,
                   "idempotency_key_reused")
    assert_problem(client.post(f"{API}/ratings", json=body, headers={"Idempotency-Key": "x" * 65}), 400,
                   "invalid_idempotency_key")
    assert rating_count() == 1
    # The replay is rebuilt from the rating row; the receipt is derived again, never kept anywhere.
    raw = db.session.execute(text("SELECT * FROM ratings")).mappings().one()
    assert raw["idempotency_key"] == "k-123"
    assert not any(first.get_json()["receipt"] in str(value) for value in raw.values())


def test_a_retry_gets_the_first_response_whatever_would_refuse_it_now(app_factory, tokens):
    """A retry is looked up only when the rating is refused: a case rated since, an exhausted rate limit and a
    catalog change all leave the stored first response to answer."""
    app = app_factory(RATE_LIMIT_ANON_RATINGS=(1, 600))
    client = app.test_client()
    case = register_case(client, tokens["staff"])
    by_case = {"rating_token": case["rating_token"], "score": 2, "channel": "miniprogram", "tags": ["QUEUE"]}
    first = client.post(f"{API}/ratings", json=by_case, headers={"Idempotency-Key": "case-retry"})
    by_hall = {"hall": "HZ-XC", "item": "SB-001", "score": 5, "channel": "qrcode"}
    hall_first = client.post(f"{API}/ratings", json=by_hall, headers={"Idempotency-Key": "hall-retry"})
    assert first.status_code == hall_first.status_code == 201
    # The case is rated now (409) and the client's one rating per window is spent (429) ...
    assert_problem(client.post(f"{API}/ratings", json=by_case), 409, "already_rated")
    assert_problem(client.post(f"{API}/ratings", json=by_hall), 429, "rate_limited")
    # ... and the item is no longer offered there (422): the retries still get their first answers.
    with app.app_context():
        db.session.execute(delete(HallItem).where(HallItem.hall_code == "HZ-XC", HallItem.item_code == "SB-001"))
        db.session.commit()
    assert_problem(client.post(f"{API}/ratings", json={**by_hall, "channel": "web"}), 422)
    for key, body, answer in (("case-retry", by_case, first), ("hall-retry", by_hall, hall_first)):
        again = client.post(f"{API}/ratings", json=body, headers={"Idempotency-Key": key})
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.get_json() == answer.get_json()
        assert_problem(client.post(f"{API}/ratings", json={**body, "score": 1}, headers={"Idempotency-Key": key}),
                       409, "idempotency_key_reused")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Rating)) == 2


def _post_concurrently(app, bodies_and_headers):
    results = []
    barrier = threading.Barrier(len(bodies_and_headers))

    def worker(body, headers):
        client = app.test_client()
        barrier.wait()
        response = client.post(f"{API}/ratings", json=body, headers=headers)
        results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=worker, args=bh) for bh in bodies_and_headers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_twenty_concurrent_posts_of_one_case_store_exactly_one(app, client, tokens):
    case = register_case(client, tokens["staff"])
    body = {"rating_token": case["rating_token"], "score": 1, "channel": "miniprogram"}
    results = _post_concurrently(app, [(body, {})] * 20)
    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 1 and statuses.count(409) == 19, statuses
    assert all(b["code"] == "already_rated" for s, b in results if s == 409)
    assert rating_count() == 1


def test_twenty_concurrent_retries_with_one_key_store_exactly_one(app, demo):
    body = {"hall": "HZ-XC", "score": 2, "channel": "app"}
    results = _post_concurrently(app, [(body, {"Idempotency-Key": "same-retry"})] * 20)
    assert {status for status, _ in results} == {201}
    assert len({b["id"] for _, b in results}) == 1
    assert rating_count() == 1


def test_anonymous_hall_ratings_are_rate_limited(app_factory):
    app = app_factory(RATE_LIMIT_ANON_RATINGS=(3, 600))
    with app.app_context():
        from service import catalog

        catalog.load_demo()
    client = app.test_client()
    body = {"hall": "HZ-XC", "score": 5, "channel": "qrcode"}
    for _ in range(3):
        assert client.post(f"{API}/ratings", json=body, headers={"X-Client-Id": "phone-1"}).status_code == 201
    limited = client.post(f"{API}/ratings", json=body, headers={"X-Client-Id": "phone-1"})
    problem = assert_problem(limited, 429, "rate_limited")
    assert 0 < int(limited.headers["Retry-After"]) <= 600
    # A person reads the wait in whole minutes, rounded up; a program reads Retry-After in seconds.
    assert problem["detail"] == f"操作过于频繁，请在 {math.ceil(int(limited.headers['Retry-After']) / 60)} 分钟后再试"
    assert client.post(f"{API}/ratings", json=body, headers={"X-Client-Id": "phone-2"}).status_code == 201


def test_receipt_guards_the_raters_view(client, demo):
    created = client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": 5, "channel": "web"}).get_json()
    assert_problem(client.get(f"{API}/ratings/{created['id']}", query_string={"receipt": "wrong"}), 404, "not_found")
    assert_problem(client.get(f"{API}/ratings/{created['id'] + 99}", query_string={"receipt": created["receipt"]}),
                   404, "not_found")
    assert_problem(client.get(f"{API}/ratings/{created['id']}"), 422)
    ok = client.get(f"{API}/ratings/{created['id']}", query_string={"receipt": created["receipt"]})
    assert ok.status_code == 200 and ok.headers["Cache-Control"] == "private, no-store"


def test_staff_see_only_their_halls(client, tokens):
    xc = client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": 1, "channel": "web"}).get_json()
    jn = client.post(f"{API}/ratings", json={"hall": "HZ-XC-JN", "score": 5, "channel": "web"}).get_json()
    hb = client.post(f"{API}/ratings", json={"hall": "HZ-XC-HB", "score": 3, "channel": "web"}).get_json()

    def ids(headers, **query):
        response = client.get(f"{API}/ratings", query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        return {r["id"] for r in response.get_json()["items"]}

    assert ids(tokens["staff_b"]) == {hb["id"]}
    assert ids(tokens["staff"]) == {xc["id"]}
    assert ids(tokens["supervisor"]) == {xc["id"], jn["id"], hb["id"]}
    assert ids(tokens["supervisor_jn"]) == {jn["id"]}
    assert ids(tokens["admin"]) == {xc["id"], jn["id"], hb["id"]}
    assert_problem(client.get(f"{API}/ratings", query_string={"hall": "HZ-XC"}, headers=tokens["staff_b"]), 404)
    assert_problem(client.get(f"{API}/ratings/{xc['id']}", headers=tokens["staff_b"]), 404, "not_found")
    assert client.get(f"{API}/ratings/{xc['id']}", headers=tokens["supervisor"]).status_code == 200
    assert_problem(client.get(f"{API}/ratings"), 401)


def test_list_filters_and_cursor_pages(client, tokens):
    made = [client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": s, "channel": c, "window": "04"}).get_json()
            for s, c in [(1, "web"), (5, "app"), (2, "web"), (4, "qrcode"), (3, "web")]]
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"{API}/ratings", query_string=query, headers=tokens["staff"]).get_json()
        seen += [r["id"] for r in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and seen == sorted((m["id"] for m in made), reverse=True)

    def ids(**query):
        return {r["id"] for r in client.get(f"{API}/ratings", query_string=query, headers=tokens["staff"])
                .get_json()["items"]}

    assert ids(bad="true") == {made[0]["id"], made[2]["id"]}
    assert ids(bad="false") == {made[1]["id"], made[3]["id"], made[4]["id"]}
    assert ids(score=4) == {made[3]["id"]}
    assert ids(channel="web", bad="true") == {made[0]["id"], made[2]["id"]}
    assert len(ids(**{"from": "2000-01-01", "to": "2099-12-31"})) == 5
    assert ids(**{"from": "2099-12-31"}) == set()
    assert_problem(client.get(f"{API}/ratings", query_string={"from": "2026-13-01"}, headers=tokens["staff"]), 422)


def test_receipt_reads_are_rate_limited(app_factory):
    app = app_factory(RATE_LIMIT_RECEIPT_READS=(3, 60))
    with app.app_context():
        from service import catalog

        catalog.load_demo()
    client = app.test_client()
    created = client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": 5, "channel": "web"}).get_json()
    for guess in ("a", "b", "c"):
        assert_problem(client.get(f"{API}/ratings/{created['id']}", query_string={"receipt": guess}), 404)
    limited = client.get(f"{API}/ratings/{created['id']}", query_string={"receipt": created["receipt"]})
    problem = assert_problem(limited, 429, "rate_limited")
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert problem["detail"] == "操作过于频繁，请在 1 分钟后再试"


def test_cors_is_closed_by_default_and_opens_per_origin(app_factory):
    closed = app_factory().test_client().get(f"{API}/halls", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in closed.headers
    client = app_factory(CORS_ORIGINS=["https://wx.example.gov.cn"]).test_client()
    assert "Access-Control-Allow-Origin" not in client.get(f"{API}/halls", headers={"Origin": "https://evil.example"}) \
        .headers
    allowed = client.get(f"{API}/halls", headers={"Origin": "https://wx.example.gov.cn"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://wx.example.gov.cn"


def test_stored_request_hash_cannot_be_recomputed_without_the_server_key(client, demo):
    import hashlib
    import json

    body = {"hall": "HZ-XC", "score": 1, "channel": "web", "anonymous": False, "phone": "13700001111"}
    assert client.post(f"{API}/ratings", json=body, headers={"Idempotency-Key": "h-1"}).status_code == 201
    stored = db.session.execute(select(Rating.request_hash)).scalar_one()
    plain = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode())
    assert stored != plain.hexdigest()


GOOD = {"hall": "HZ-XC", "item": "SB-001", "window": "04", "score": 5, "channel": "miniprogram",
        "tags": ["EFFICIENT", "PATIENT"], "comment": "窗口人员很耐心"}


def _stored() -> tuple[int, int]:
    db.session.expire_all()
    return tuple(db.session.scalar(select(func.count()).select_from(t)) for t in (Rating, RateLimitCounter))


@pytest.mark.parametrize("request_", [
    {"json": {**GOOD, "hall": "NOPE"}},  # unknown hall (the service's 422)
    {"json": {**GOOD, "tags": ["EFFICIENT", "QUEUE"], "score": 5}},  # a bad-only tag on praise
    {"json": {"hall": "HZ-XC", "score": 1, "channel": "web", "anonymous": False}},  # a named 差评 without a phone
    {"json": {"score": 3, "channel": "web"}},  # neither token nor hall
    {"json": {"rating_token": "forged", "score": 3, "channel": "web"}},
    {"json": GOOD, "headers": {"Idempotency-Key": "x" * 65}},  # the service's 400
    {"json": GOOD, "headers": {"Idempotency-Key": "键"}},
    {"json": {**GOOD, "score": 6}},  # the schema's 422
    {"json": {**GOOD, "unknown": 1}},
    {"json": [GOOD]},
    {"json": {**GOOD, "comment": "a\u0000b"}},
    {"data": b'{"hall": "HZ-XC", ', "content_type": "application/json"},  # malformed
    {"data": b'{"hall": "HZ-XC"}', "content_type": "text/plain"},
    {"data": b"", "content_type": "application/json"},
    {"data": b"\xff\xfe{}", "content_type": "application/json"},
    {"json": GOOD, "query_string": {"hall": "HZ-XC"}},  # unknown query parameter
    {"data": b"x" * (64 * 1024 + 1), "content_type": "application/json"},  # 413
], ids=["hall", "tag", "phone", "nothing", "token", "key", "key-ascii", "score", "unknown-field", "array", "nul",
        "malformed", "text", "empty", "not-utf8", "query", "oversize"])
def test_every_refusal_is_a_chinese_problem_and_stores_nothing(client, demo, request_):
    stored = _stored()
    answered = client.post(f"{API}/ratings", **request_)
    assert 400 <= answered.status_code < 500
    assert_problem(answered, answered.status_code)
    assert "Cache-Control" not in answered.headers or answered.headers["Cache-Control"] != "no-store"
    assert _stored() == stored


def test_a_refused_rating_counts_no_rate_limit(app_factory):
    app = app_factory(RATE_LIMIT_ANON_RATINGS=(2, 600))
    with app.app_context():
        from service import catalog

        catalog.load_demo()
        client = app.test_client()
        answers = [client.post(f"{API}/ratings", json=GOOD, headers={"X-Client-Id": c})
                   for c in ("phone-1",) * 4 + ("phone-2",) * 2]
        assert [r.status_code for r in answers] == [201, 201, 429, 429, 201, 201]
        assert 0 < int(answers[3].headers["Retry-After"]) <= 600
        counts = db.session.scalars(select(RateLimitCounter.count)).all()
        assert sorted(counts) == [2, 2, 4]  # per client twice each; per address (both clients) four times


def test_a_request_with_a_bearer_token_gets_the_same_201(client, demo):
    carried = client.post(f"{API}/ratings", json=GOOD, headers={"Authorization": "Bearer not-needed"})
    assert carried.status_code == 201 and carried.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("phone", ["13912345678\n", "13912345678\r\n", " 13912345678", "１３９１２３４５６７８",
                                   "1391234567８", "١٣٩١٢٣٤٥٦٧٨", "139123456789"])
def test_a_phone_is_eleven_ascii_digits_and_nothing_else(client, demo, phone):
    body = {"hall": "HZ-XC", "score": 1, "channel": "miniprogram", "anonymous": False, "name": "李四", "phone": phone}
    problem = assert_problem(client.post(f"{API}/ratings", json=body), 422, "validation_error")
    assert problem["errors"]["phone"] == ["手机号码格式不正确，应为 11 位中国大陆手机号"]
    assert rating_count() == 0
    assert client.post(f"{API}/ratings", json={**body, "phone": "13912345678"}).status_code == 201


@pytest.mark.parametrize("name, masked", [("张", "*"), ("张三", "张*"), ("张三丰", "张**"), ("欧阳娜娜", "欧***")])
def test_names_are_masked_so_that_no_name_shows_whole(client, demo, name, masked):
    created = client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": 4, "channel": "web", "anonymous": False,
                                                  "name": name}).get_json()
    view = client.get(f"{API}/ratings/{created['id']}", query_string={"receipt": created["receipt"]}).get_json()
    assert view["name"] == masked
