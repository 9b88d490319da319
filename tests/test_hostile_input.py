"""Hostile input gets a problem+json 4xx with a Chinese detail, never a 500, and stores nothing: deep nesting, lone
surrogates, dates out of the supported range, oversize chunked bodies, bodies that are not UTF-8."""
import io
import json

import pytest
from sqlalchemy import func, select

from models import Case, Finding, ItemEvent, Rating, Walkthrough, db
from tests.helpers import API, assert_problem, register_case
from tests.rect_helpers import item_of_rating, make_rating, run
from tests.test_walkthroughs import finding, walkthrough

WRITE_ROUTES = ["/cases", "/walkthroughs", "/sync", "/rectifications/{item}/actions", "/ratings"]


@pytest.fixture
def client(app, tokens):
    return app.test_client()


@pytest.fixture
def item_id(tokens):
    rating = make_rating(score=1)
    run("collect_bad_ratings")
    return item_of_rating(rating["id"]).id


def stored() -> dict:
    db.session.commit()
    return {model.__tablename__: db.session.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Case, Rating, Walkthrough, Finding, ItemEvent)}


def post_raw(client, path, raw: bytes | str, headers, content_type="application/json"):
    data = raw.encode() if isinstance(raw, str) else raw
    return client.post(f"{API}{path}", data=data, content_type=content_type, headers=headers)


# ---- 1. deep nesting ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["[" * 60000, '{"a":' * 12000, '{"a":' * 60000, "[" * 33 + "]" * 33,
                                 '{"comment": ' + "[" * 40 + "1" + "]" * 40 + "}"],
                         ids=["open-arrays", "open-objects", "open-objects-300k", "33-levels", "40-levels-in-a-field"])
def test_deeply_nested_json_is_a_400_not_a_recursion_error(app, client, tokens, item_id, raw):
    before = stored()
    for route in WRITE_ROUTES:
        response = post_raw(client, route.format(item=item_id), raw, tokens["admin"])
        if len(raw) > app.config["SYNC_MAX_BODY_BYTES" if route == "/sync" else "MAX_CONTENT_LENGTH"]:
            assert_problem(response, 413, "payload_too_large")  # 300 KB: over the limit of every route but /sync
        else:
            body = assert_problem(response, 400, "malformed_json")
            assert body["detail"] == "请求体 JSON 嵌套过深（最多 32 层）", route
    assert stored() == before


def test_nesting_within_the_limit_reaches_the_schema(client, tokens):
    body = assert_problem(post_raw(client, "/cases", '{"x": ' + "[" * 30 + "]" * 30 + "}", tokens["admin"]), 422,
                          "validation_error")
    assert body["errors"]["x"] == ["不支持的字段"]


# ---- 2. lone surrogates ------------------------------------------------------------------------------------------
def _surrogate_bodies(item_id: int) -> list[tuple[str, dict, object]]:
    bad = "坏\ud800字"
    return [
        ("/ratings", {"hall": "HZ-XC", "score": 5, "channel": "web", "comment": bad}, {"comment": ["X"]}),
        ("/cases", {"case_no": bad, "hall": "HZ-XC", "item": "SB-001"}, {"case_no": ["X"]}),
        ("/walkthroughs", walkthrough(summary=bad), {"summary": ["X"]}),
        ("/walkthroughs", walkthrough(findings=[finding(), finding(description=bad)]),
         {"findings": {"1": {"description": ["X"]}}}),
        (f"/rectifications/{item_id}/actions", {"action": "appeal", "note": bad}, {"note": ["X"]}),
        ("/ratings", {"hall": "HZ-XC", "score": 5, "channel": "web", "\udfff": 1}, {"body": ["X"]}),
    ]


def _shape(errors, message=None):
    """The errors with each message list as ["X"] (when it is [message], or any list without one)."""
    if isinstance(errors, dict):
        return {k: _shape(v, message) for k, v in errors.items()}
    return ["X"] if message is None or errors == [message] else errors


def test_lone_surrogates_are_refused_before_the_write(client, tokens, item_id):
    before = stored()
    for path, body, where in _surrogate_bodies(item_id):
        raw = json.dumps(body)  # ensure_ascii: the surrogate travels as the escape \ud800, as a client would send it
        assert "\\ud800" in raw or "\\udfff" in raw
        problem = assert_problem(post_raw(client, path, raw, tokens["admin"]), 422, "validation_error")
        assert "无效字符" in problem["detail"], problem
        assert _shape(problem["errors"]) == where, (path, problem)
        assert _shape(problem["errors"], problem["detail"]) == where
    assert stored() == before


def test_a_sync_batch_rejects_only_the_record_with_a_lone_surrogate(client, tokens):
    """POST /sync stores or rejects each record on its own (API.md): one record's text never costs the batch."""
    good, bad = walkthrough(), walkthrough(summary="坏\ud800字")
    raw = json.dumps({"walkthroughs": [good, bad]})
    response = post_raw(client, "/sync", raw, tokens["staff"])
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [r["outcome"] for r in results] == ["created", "rejected"]
    assert "无效字符" in results[1]["errors"]["summary"][0]


def test_surrogate_pairs_are_ordinary_text(client, tokens):
    raw = json.dumps({"hall": "HZ-XC", "score": 5, "channel": "web", "comment": "办得快😀"})
    assert "\\ud83d\\ude00" in raw
    response = post_raw(client, "/ratings", raw, {})
    assert response.status_code == 201, response.get_json()
    db.session.commit()
    assert db.session.execute(select(Rating.comment)).scalar_one() == "办得快😀"


# ---- 3. dates out of range -----------------------------------------------------------------------------------------
DATE_QUERIES = ["/ratings", "/stats", "/stats/tags", "/walkthroughs"]


@pytest.mark.parametrize("path", DATE_QUERIES)
@pytest.mark.parametrize("query", [{"from": "0001-01-01"}, {"to": "9999-12-31"}, {"from": "1999-12-31"},
                                   {"to": "2100-01-01"}])
def test_query_dates_outside_the_supported_range_are_422(client, tokens, path, query):
    body = assert_problem(client.get(f"{API}{path}", query_string=query, headers=tokens["admin"]), 422,
                          "validation_error")
    assert body["errors"] == {next(iter(query)): ["日期超出支持范围（2000-01-01 至 2099-12-31）"]}
    assert "from" not in body["detail"] and "to：" not in body["detail"]


@pytest.mark.parametrize("path", DATE_QUERIES)
def test_query_dates_at_the_ends_of_the_range_are_answered(client, tokens, path):
    response = client.get(f"{API}{path}", query_string={"from": "2000-01-01", "to": "2099-12-31"},
                          headers=tokens["admin"])
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("path,name", [("/rankings", "period"), ("/reports/monthly", "month")])
def test_months_outside_the_supported_range_are_422(client, tokens, path, name):
    for month in ("0001-01", "9999-12", "1999-12", "2100-01"):
        body = assert_problem(client.get(f"{API}{path}", query_string={name: month}, headers=tokens["admin"]), 422,
                              "validation_error")
        assert body["errors"] == {name: ["月份超出支持范围（2000-01 至 2099-12）"]}
    for month in ("2000-01", "2099-12"):  # 2000-01 compares with 1999-12, which must still be computable
        response = client.get(f"{API}{path}", query_string={name: month}, headers=tokens["admin"])
        assert response.status_code == 200, response.get_json()


def test_updated_since_outside_the_range_is_422(client, tokens):
    for since in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "1999-12-31T23:59:59+08:00"):
        body = assert_problem(client.get(f"{API}/rectifications", query_string={"updated_since": since},
                                         headers=tokens["admin"]), 422, "validation_error")
        assert body["errors"] == {"updated_since": ["日期超出支持范围（2000-01-01 至 2099-12-31）"]}
    response = client.get(f"{API}/rectifications", query_string={"updated_since": "2000-01-01T00:00:00+14:00"},
                          headers=tokens["admin"])
    assert response.status_code == 200


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
                                    "1999-12-31T23:59:59+08:00"])
def test_body_times_outside_the_range_are_422_and_store_nothing(client, tokens, moment):
    before = stored()
    case = {"case_no": "BJ-RANGE-1", "hall": "HZ-XC", "item": "SB-001", "completed_at": moment}
    body = assert_problem(client.post(f"{API}/cases", json=case, headers=tokens["staff"]), 422, "validation_error")
    assert body["errors"] == {"completed_at": ["日期超出支持范围（2000-01-01 至 2099-12-31）"]}
    body = assert_problem(client.post(f"{API}/walkthroughs", json=walkthrough(started_at=moment, ended_at=None),
                                      headers=tokens["staff"]), 422, "validation_error")
    assert body["errors"] == {"started_at": ["日期超出支持范围（2000-01-01 至 2099-12-31）"]}
    assert stored() == before
    register_case(client, tokens["staff"], completed_at="2000-01-01T00:00:00+08:00")  # the first supported day


# ---- 4. body size and encoding -----------------------------------------------------------------------------------
def _chunked(client, path, raw: bytes, headers):
    return client.post(f"{API}{path}", input_stream=io.BytesIO(raw), content_type="application/json",
                       headers={**headers, "Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True})


def test_a_chunked_body_over_the_limit_is_413(client, tokens, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    before = stored()
    body = {"case_no": "BJ-CHUNK", "hall": "HZ-XC", "item": "SB-001", "pad": "x" * limit}
    assert_problem(_chunked(client, "/cases", json.dumps(body).encode(), tokens["staff"]), 413, "payload_too_large")
    assert stored() == before
    # Within the limit, a chunked body is read like any other (here its unknown field is the schema's 422).
    body["pad"] = "x"
    assert_problem(_chunked(client, "/cases", json.dumps(body).encode(), tokens["staff"]), 422, "validation_error")
    del body["pad"]
    assert _chunked(client, "/cases", json.dumps(body).encode(), tokens["staff"]).status_code == 201


def test_a_chunked_body_of_exactly_the_limit_is_read(client, tokens, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    raw = json.dumps({"case_no": "BJ-EXACT", "hall": "HZ-XC", "item": "SB-001"}).encode()
    raw = raw[:-1] + b" " * (limit - len(raw)) + b"}"
    assert len(raw) == limit
    assert _chunked(client, "/cases", raw, tokens["staff"]).status_code == 201


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "gbk", "utf-8-sig"])
def test_a_body_that_is_not_utf8_is_400(client, tokens, encoding):
    raw = json.dumps({"hall": "HZ-XC", "score": 5, "channel": "web", "comment": "排队时间长"},
                     ensure_ascii=False).encode(encoding)
    body = assert_problem(post_raw(client, "/ratings", raw, {}), 400, "malformed_json")
    assert "UTF-8" in body["detail"]
    assert stored()["ratings"] == 0


def test_nan_and_infinity_are_not_json(client, tokens):
    for raw in ('{"hall": "HZ-XC", "score": NaN, "channel": "web"}',
                '{"hall": "HZ-XC", "score": Infinity, "channel": "web"}'):
        assert_problem(post_raw(client, "/ratings", raw, {}), 400, "malformed_json")


# ---- 5. what a citizen reads ---------------------------------------------------------------------------------------
def test_details_name_no_field_codes_or_english_values(client, tokens):
    body = assert_problem(client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": 5, "channel": "web",
                                                              "openid": "o-123"}), 422, "validation_error")
    assert body["detail"] == "请求中包含不支持的字段"
    assert body["errors"] == {"openid": ["不支持的字段"]}
    body = assert_problem(client.get(f"{API}/halls", query_string={"utm_source": "x"}), 422)
    assert body["detail"] == "请求中包含不支持的查询参数"
    body = assert_problem(client.post(f"{API}/cases", json={"hall": "HZ-XC", "item": "SB-001"},
                                      headers=tokens["staff"]), 422)
    assert body["detail"] == "办件编号：此项为必填项"
    assert body["errors"] == {"case_no": ["此项为必填项"]}
    body = assert_problem(client.get(f"{API}/jobs", query_string={"limit": "many"}, headers=tokens["admin"]), 422)
    assert body["detail"] == "每页条数：必须是整数"


def test_generic_choice_messages_do_not_list_english_codes():
    from api.errors import validation_problem

    errors, detail = validation_problem({"json": {"by": ["Must be one of: window, item, hall, staff."]}})
    assert errors == {"by": ["不是可接受的取值"]} and detail == "排名对象：不是可接受的取值"
    errors, detail = validation_problem({"json": {"x_custom": ["Missing data for required field."]}})
    assert detail == "提交的数据未通过校验：此项为必填项" and "x_custom" not in detail


# ---- 6. booleans are booleans --------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [0, 1, "true", "false", "1", None], ids=repr)
def test_a_body_boolean_takes_only_true_or_false(client, tokens, item_id, value):
    """The document says `type: boolean`: a JSON number or string is refused, not read as truthy (a tablet that sends
    `"needs_rectification": 0` has a bug the answer should show, not hide)."""
    before = stored()
    finding_ = finding(needs_rectification=value)
    cases = [("/walkthroughs", tokens["staff"], walkthrough(findings=[finding_]), ("findings", "0", "needs_rectification")),
             ("/ratings", {}, {"hall": "HZ-XC", "score": 4, "channel": "web", "anonymous": value}, ("anonymous",)),
             ("/halls", tokens["admin"], {"code": "N1", "name": "新厅", "level": "street", "parent_code": "HZ-XC",
                                          "default_rating_enabled": value}, ("default_rating_enabled",))]
    for path, headers, body, where in cases:
        if value is None and path == "/ratings":
            continue  # anonymous is not nullable either, but its null is refused by its own message
        problem = assert_problem(client.post(f"{API}{path}", json=body, headers=headers), 422, "validation_error")
        errors = problem["errors"]
        for key in where:
            errors = errors[key]
        assert errors, problem
    answer = client.post(f"{API}/sync", json={"walkthroughs": [walkthrough(findings=[finding_])]},
                         headers=tokens["staff"]).get_json()
    assert answer["results"][0]["outcome"] == "rejected"
    assert stored() == before


@pytest.mark.parametrize("value", ["1", "0", "yes", "True", "on"])
def test_a_query_boolean_takes_only_the_words_true_or_false(client, tokens, value):
    for path, name in [("/ratings", "bad"), ("/rectifications", "overdue"), ("/accounts", "active")]:
        problem = assert_problem(client.get(f"{API}{path}", query_string={name: value}, headers=tokens["admin"]), 422)
        assert list(problem["errors"]) == [name]
        for word in ("true", "false"):
            assert client.get(f"{API}{path}", query_string={name: word}, headers=tokens["admin"]).status_code == 200


def test_true_and_false_are_taken(client, tokens):
    made = client.post(f"{API}/walkthroughs", json=walkthrough(findings=[finding(needs_rectification=False)]),
                       headers=tokens["staff"])
    assert made.status_code == 201 and made.get_json()["findings"][0]["needs_rectification"] is False
    rating = client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": 4, "channel": "web", "anonymous": False})
    assert rating.status_code == 201
