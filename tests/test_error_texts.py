"""Error texts a person may read carry no field codes and no English values: every `detail` and every message under
`errors` is Chinese (numbers and the request's own values aside). The codes stay where programs read them: the keys
of `errors`, `code`, `allowed_actions`, and the OpenAPI document's enums. The schemathesis run applies the same rule
to every problem it provokes (tests/contract_checks.py)."""
import json

import pytest

from service.vocab import CHANNELS
from tests.helpers import API, assert_problem, foreign_words, messages_of, request_strings
from tests.rect_helpers import act, item_of_rating, make_rating, run
from tests.test_walkthroughs import finding, walkthrough

ITEM = "{item}"
RATING = "{rating}"
WALK = "{walkthrough}"

# (role or None, method, path, query, json body, headers, status): each one a refusal some message words.
BAD_REQUESTS = {
    "channel-unknown": (None, "POST", "/ratings", None, {"hall": "HZ-XC", "score": 4, "channel": "bogus"}, None, 422),
    "channel-missing": (None, "POST", "/ratings", None, {"hall": "HZ-XC", "score": 4}, None, 422),
    "unknown-field": (None, "POST", "/ratings", None, {"hall": "HZ-XC", "score": 4, "channel": "web", "openid": "o1"},
                      None, 422),
    "no-token-no-hall": (None, "POST", "/ratings", None, {"score": 4, "channel": "web"}, None, 422),
    "score-null": (None, "POST", "/ratings", None, {"hall": "HZ-XC", "score": None, "channel": "web"}, None, 422),
    "anonymous-not-boolean": (None, "POST", "/ratings", None,
                              {"hall": "HZ-XC", "score": 4, "channel": "web", "anonymous": "maybe"}, None, 422),
    "idempotency-key": (None, "POST", "/ratings", None, {"hall": "HZ-XC", "score": 4, "channel": "web"},
                        {"Idempotency-Key": "键"}, 400),
    "receipt-missing": (None, "GET", f"/ratings/{RATING}", None, None, None, 422),
    "follow-up-no-comment": (None, "POST", f"/ratings/{RATING}/follow-up", None, {"tags": []}, None, 422),
    "list-limit": ("staff", "GET", "/ratings", {"limit": "0"}, None, None, 422),
    "list-channel": ("staff", "GET", "/ratings", {"channel": "bogus"}, None, None, 422),
    "list-date": ("staff", "GET", "/ratings", {"from": "1.5.2026"}, None, None, 422),
    "list-order": ("staff", "GET", "/ratings", {"from": "2026-05-02", "to": "2026-05-01"}, None, None, 422),
    "unknown-query": ("staff", "GET", "/ratings", {"hal": "HZ-XC"}, None, None, 422),
    "cases-time": ("staff", "POST", "/cases", None,
                   {"case_no": "T1", "hall": "HZ-XC", "item": "SB-001", "completed_at": "2026-05-01 10:00"}, None, 422),
    "hall-level": ("admin", "POST", "/halls", None, {"code": "N1", "name": "新厅", "level": "bogus"}, None, 422),
    "hall-level-patch": ("admin", "PATCH", "/halls/HZ-XC", None, {"level": "bogus"}, None, 422),
    "tag-applies": ("admin", "POST", "/tags", None, {"code": "T1", "label": "新标签", "applies_to": "bogus"}, None, 422),
    "stats-group": ("supervisor", "GET", "/stats", {"group_by": "bogus"}, None, None, 422),
    "stats-source": ("supervisor", "GET", "/stats", {"source": "bogus"}, None, None, 422),
    "stats-walkthrough-window": ("supervisor", "GET", "/stats", {"source": "walkthrough", "group_by": "window"}, None,
                                 None, 422),
    "rankings-by": ("supervisor", "GET", "/rankings", {"period": "2026-05", "by": "bogus"}, None, None, 422),
    "rankings-period": ("supervisor", "GET", "/rankings", {"period": "May"}, None, None, 422),
    "report-format": ("supervisor", "GET", "/reports/monthly", {"format": "pdf"}, None, None, 422),
    "report-month": ("supervisor", "GET", "/reports/monthly", {"month": "2026/05"}, None, None, 422),
    "feedback-format": ("staff", "GET", f"/walkthroughs/{WALK}/feedback", {"format": "pdf"}, None, None, 422),
    "walkthrough-mode": ("staff", "POST", "/walkthroughs", None, walkthrough(mode="bogus"), None, 422),
    "walkthrough-observer": ("staff", "POST", "/walkthroughs", None, walkthrough(observer={"title": "科长"}), None,
                             422),
    "walkthrough-finding": ("staff", "POST", "/walkthroughs", None,
                            walkthrough(findings=[finding(step="bogus", severity="bogus", category="bogus",
                                                          needs_rectification="yes")]), None, 422),
    "walkthrough-uuid": ("staff", "POST", "/walkthroughs", None, walkthrough(id="not-a-uuid"), None, 422),
    "walkthrough-surrogate": ("staff", "POST", "/walkthroughs", None, walkthrough(summary="\ud800"), None, 422),
    "walkthrough-nul": ("staff", "POST", "/walkthroughs", None, walkthrough(summary="a\x00b"), None, 422),
    "walkthrough-status-list": ("staff", "GET", "/walkthroughs", {"status": "bogus"}, None, None, 422),
    "sync-not-array": ("staff", "POST", "/sync", None, {"walkthroughs": {}}, None, 422),
    "action-unknown": ("staff", "POST", f"/rectifications/{ITEM}/actions", None, {"action": "bogus"}, None, 422),
    "action-missing": ("staff", "POST", f"/rectifications/{ITEM}/actions", None, {"note": "说明"}, None, 422),
    "action-resolution": ("staff", "POST", f"/rectifications/{ITEM}/actions", None,
                          {"action": "verify", "resolution": "bogus"}, None, 422),
    "action-needs-field": ("staff", "POST", f"/rectifications/{ITEM}/actions", None, {"action": "verify"}, None, 422),
    "action-extra-field": ("staff", "POST", f"/rectifications/{ITEM}/actions", None,
                           {"action": "verify", "resolution": "immediate", "measures": "已整改"}, None, 422),
    "if-match": ("staff", "POST", f"/rectifications/{ITEM}/actions", None,
                 {"action": "verify", "resolution": "immediate"}, {"If-Match": "version"}, 400),
    "rectification-limit": ("supervisor", "GET", "/rectifications", {"limit": "500"}, None, None, 422),
    "jobs-limit": ("supervisor", "GET", "/jobs", {"limit": "0"}, None, None, 422),
    "subscription-format": ("admin", "POST", "/subscriptions", None,
                            {"name": "省平台", "url": "https://example.org/hook", "events": ["rating.bad"],
                             "format": "bogus"}, None, 422),
    "subscription-events": ("admin", "POST", "/subscriptions", None,
                            {"name": "省平台", "url": "https://example.org/hook", "events": ["bogus"],
                             "format": "webhook"}, None, 422),
    "subscription-provincial": ("admin", "POST", "/subscriptions", None,
                                {"name": "省平台", "url": "https://example.org/hook",
                                 "events": ["walkthrough.submitted"], "format": "provincial"}, None, 422),
    "deliveries-status": ("admin", "GET", "/deliveries", {"status": "bogus"}, None, None, 422),
    "account-role": ("admin", "POST", "/accounts", None, {"role": "bogus", "name": "甲"}, None, 422),
    "account-list-role": ("admin", "GET", "/accounts", {"role": "bogus"}, None, None, 422),
    "no-token": (None, "GET", "/ratings", None, None, None, 401),
    "not-json": ("staff", "POST", "/cases", None, "not json", None, 400),
}


@pytest.fixture
def targets(client, tokens):
    rating = make_rating(score=1)
    run("collect_bad_ratings")
    walk = client.post(f"{API}/walkthroughs", json=walkthrough(), headers=tokens["staff"]).get_json()
    return {"item": item_of_rating(rating["id"]).id, "rating": rating["id"], "walkthrough": walk["id"]}


def _send(client, tokens, targets, role, method, path, query, body, headers):
    headers = {**(tokens[role] if role else {}), **(headers or {})}
    # json.dumps escapes a lone surrogate (\ud800) as the hostile client sends it; the test client's json= cannot.
    raw = body if isinstance(body, str) else json.dumps(body)
    kwargs = {"data": raw, "content_type": "application/json"}
    return client.open(f"{API}{path.format(**targets)}", method=method, query_string=query, headers=headers,
                       **(kwargs if body is not None else {}))


def assert_chinese_only(problem: dict, *request_parts) -> None:
    echoed = request_strings(list(request_parts))
    for message in messages_of(problem):
        assert not foreign_words(message, echoed), (message, problem)


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_every_refusal_is_worded_in_chinese_only(client, tokens, targets, case):
    role, method, path, query, body, headers, status = BAD_REQUESTS[case]
    response = _send(client, tokens, targets, role, method, path, query, body, headers)
    problem = assert_problem(response, status)
    assert_chinese_only(problem, query, body if not isinstance(body, str) else None)


def test_a_value_outside_a_vocabulary_is_named_by_its_labels(client):
    problem = assert_problem(client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": 4, "channel": "bogus"}),
                             422, "validation_error")
    assert all(label in problem["detail"] for label in CHANNELS.values()), problem
    assert problem["errors"] == {"channel": [problem["detail"]]}


def test_submitting_without_feedback_names_no_field_codes(client, tokens, targets):
    assert act(client, tokens["staff"], targets["item"], "verify", if_match=1, resolution="immediate").status_code == 200
    response = act(client, tokens["staff"], targets["item"], "submit", if_match=2, measures="已增派人手",
                   result="排队缩短")
    problem = assert_problem(response, 422, "feedback_required")
    assert_chinese_only(problem)
    response = act(client, tokens["staff"], targets["item"], "submit", if_match=2, measures="已增派人手",
                   result="排队缩短", answered=True, unreachable="未留电话")
    assert_chinese_only(assert_problem(response, 422, "validation_error"))


def test_the_rule_sees_codes_and_lets_quoted_values_through():
    assert foreign_words("评价渠道必须是 miniprogram、app 之一") == ["miniprogram", "app"]
    assert foreign_words("openid：不支持的字段") == ["openid"]
    assert foreign_words("未知的大厅编码：NOPE", ["NOPE"]) == []
    assert foreign_words("时间必须带时区，例如 2026-11-25T09:30:00+08:00") == []
    assert foreign_words("If-Match 必须是版本号，例如 3") == []
    assert foreign_words("请求体必须是 JSON 对象", ["N"]) == []


def test_a_bad_receiver_address_is_worded_in_chinese(client, tokens):
    body = {"name": "部门系统", "url": "ftp://example.org/hook", "events": ["rating.bad"], "format": "webhook"}
    problem = assert_problem(client.post(f"{API}/subscriptions", json=body, headers=tokens["admin"]), 422)
    assert_chinese_only(problem, body)
    problem = assert_problem(client.post(f"{API}/subscriptions", json={**body, "url": ""}, headers=tokens["admin"]), 422)
    assert_chinese_only(problem, body)
