"""Every route × every role × own/other hall, generated from the app's route table.

A route added without a rule here fails `test_every_route_has_a_rule`, so no route ships without a decision on
who may call it and which hall's data it may show.
"""
import re
from dataclasses import dataclass, field

import pytest

from tests.helpers import API

ROLE_ORDER = ["staff", "supervisor", "admin"]


@dataclass(frozen=True)
class Rule:
    access: str  # "public" or the least role allowed
    # For hall-scoped routes: builds (path, options) of a request about hall HZ-XC; staff of HZ-XC-HB must get 404.
    scoped: object = field(default=None, compare=False)


def _rating_in_xc(client, tokens):
    body = client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": 1, "channel": "web"}).get_json()
    return f"{API}/ratings/{body['id']}", {}


def _walkthrough_in_xc(suffix=""):
    def build(client, tokens):
        from tests.test_walkthroughs import walkthrough

        body = walkthrough()
        assert client.post(f"{API}/walkthroughs", json=body, headers=tokens["staff"]).status_code == 201
        return f"{API}/walkthroughs/{body['id']}{suffix}", {}

    return build


def _new_walkthrough_body(client, tokens):
    from tests.test_walkthroughs import walkthrough

    return f"{API}/walkthroughs", {"json": walkthrough()}


def _item_in_xc(suffix="", body=None, **rating_fields):
    def build(client, tokens):
        from tests.rect_helpers import item_of_rating, make_rating, run

        rating = make_rating(hall="HZ-XC", **rating_fields)
        run("collect_bad_ratings")
        item = item_of_rating(rating["id"])
        return f"{API}/rectifications/{item.id}{suffix}", ({"json": body} if body else {})

    return build


def _list_in_xc(client, tokens):
    from tests.rect_helpers import item_of_rating, make_rating, run

    rating = make_rating(hall="HZ-XC")
    run("collect_bad_ratings")
    from models import RectificationList, db

    code = db.session.get(RectificationList, item_of_rating(rating["id"]).list_id).code
    return f"{API}/rectification-lists/{code}", {}


def _case_qr_in_xc(client, tokens):
    from tests.helpers import register_case

    case = register_case(client, tokens["staff"])
    return f"{API}/cases/{case['case_no']}/qr.svg", {"query_string": {"hall": "HZ-XC"}}


RULES = {
    "GET /halls": Rule("public"),
    "POST /halls": Rule("admin"),
    "GET /halls/{code}": Rule("public"),
    "PATCH /halls/{code}": Rule("admin"),
    "POST /halls/{code}/windows": Rule("admin"),
    "PATCH /halls/{code}/windows/{window}": Rule("admin"),
    "GET /items": Rule("public"),
    "POST /items": Rule("admin"),
    "PATCH /items/{code}": Rule("admin"),
    "GET /tags": Rule("public"),
    "POST /tags": Rule("admin"),
    "PATCH /tags/{code}": Rule("admin"),
    "POST /cases": Rule("staff", scoped=lambda c, t: (f"{API}/cases", {"json": {
        "case_no": "SCOPE-1", "hall": "HZ-XC", "item": "SB-001"}})),
    "POST /ratings": Rule("public"),
    "GET /ratings": Rule("staff", scoped=lambda c, t: (f"{API}/ratings", {"query_string": {"hall": "HZ-XC"}})),
    "GET /ratings/{rating_id}": Rule("public", scoped=_rating_in_xc),
    "GET /stats": Rule("staff", scoped=lambda c, t: (f"{API}/stats", {"query_string": {"hall": "HZ-XC"}})),
    "GET /stats/tags": Rule("staff", scoped=lambda c, t: (f"{API}/stats/tags", {"query_string": {"hall": "HZ-XC"}})),
    "GET /rankings": Rule("staff", scoped=lambda c, t: (f"{API}/rankings", {"query_string": {
        "hall": "HZ-XC", "period": "2026-10"}})),
    "GET /reports/monthly": Rule("staff", scoped=lambda c, t: (f"{API}/reports/monthly", {"query_string": {
        "hall": "HZ-XC"}})),
    "GET /health": Rule("public"),
    "GET /walkthrough-vocabularies": Rule("public"),
    "POST /walkthroughs": Rule("staff", scoped=_new_walkthrough_body),
    "GET /walkthroughs": Rule("staff", scoped=lambda c, t: (f"{API}/walkthroughs", {"query_string": {"hall": "HZ-XC"}})),
    "GET /walkthroughs/{walkthrough_id}": Rule("staff", scoped=_walkthrough_in_xc()),
    "POST /walkthroughs/{walkthrough_id}/submit": Rule("staff", scoped=_walkthrough_in_xc("/submit")),
    "GET /walkthroughs/{walkthrough_id}/feedback": Rule("staff", scoped=_walkthrough_in_xc("/feedback")),
    # A batch answers 200 with a per-record outcome: another hall's record is "rejected" (tests/test_walkthroughs).
    "POST /sync": Rule("staff"),
    "GET /rectification-lists": Rule("staff", scoped=lambda c, t: (f"{API}/rectification-lists", {
        "query_string": {"hall": "HZ-XC"}})),
    "GET /rectification-lists/{code}": Rule("staff", scoped=_list_in_xc),
    "GET /rectifications": Rule("staff", scoped=lambda c, t: (f"{API}/rectifications", {
        "query_string": {"hall": "HZ-XC"}})),
    "GET /rectifications/{item_id}": Rule("staff", scoped=_item_in_xc()),
    "GET /rectifications/{item_id}/contact": Rule("staff", scoped=_item_in_xc(
        "/contact", anonymous=False, phone="13812345678")),
    "POST /rectifications/{item_id}/actions": Rule("staff", scoped=_item_in_xc("/actions", {
        "action": "appeal", "note": "同一人一小时内提交多条差评，疑似恶意"})),
    # The rater's own answer, guarded by the receipt (tests/test_rectification).
    "POST /ratings/{rating_id}/answer-satisfaction": Rule("public"),
    "POST /ratings/{rating_id}/follow-up": Rule("public"),
    "GET /jobs": Rule("supervisor"),
    "GET /accounts": Rule("admin"),
    "POST /accounts": Rule("admin"),
    "POST /accounts/{account_id}/deactivate": Rule("admin"),
    "POST /accounts/{account_id}/rotate": Rule("admin"),
    # Events out: operators only (tests/test_outbox*.py).
    "GET /subscriptions": Rule("admin"),
    "POST /subscriptions": Rule("admin"),
    "PATCH /subscriptions/{sub_id}": Rule("admin"),
    "DELETE /subscriptions/{sub_id}": Rule("admin"),
    "GET /deliveries": Rule("admin"),
    "POST /deliveries/{delivery_id}/retry": Rule("admin"),
    # The pages' routes (docs/pages.md): a rating token is its own credential; QR codes are staff's, per hall.
    "GET /rating-tokens/{token}": Rule("public"),
    "GET /cases/{case_no}/qr.svg": Rule("staff", scoped=_case_qr_in_xc),
    "GET /halls/{code}/qr-sheet": Rule("staff", scoped=lambda c, t: (f"{API}/halls/HZ-XC/qr-sheet", {})),
}

SAMPLE_ARGS = {"code": "HZ-XC", "item_id": "1", "walkthrough_id": "00000000-0000-4000-8000-000000000000", "window": "01",
               "rating_id": "1", "account_id": "1", "sub_id": "1", "delivery_id": "1",
               "id": "00000000-0000-4000-8000-000000000000"}


def _routes(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API) or rule.endpoint.startswith("api-docs"):  # the document, its UI
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len(API):])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield f"{method} {path}", rule.endpoint


def test_every_route_has_a_rule(app):
    assert set(dict(_routes(app))) == set(RULES)


def test_rules_agree_with_the_views(app):
    for key, endpoint in _routes(app):
        method = key.split()[0].lower()
        view = app.view_functions[endpoint].view_class
        assert getattr(view, method)._access == RULES[key].access, key


def _call(client, key, headers=None, **options):
    method, path = key.split(" ", 1)
    for name, value in SAMPLE_ARGS.items():
        path = path.replace("{" + name + "}", value)
    return client.open(API + path, method=method, headers=headers or {}, **options)


@pytest.mark.parametrize("key", sorted(RULES))
def test_roles(client, tokens, key):
    rule = RULES[key]
    anonymous = _call(client, key, json={} if key.split()[0] != "GET" else None)
    if rule.access == "public":
        assert anonymous.status_code not in (401, 403), key
        return
    assert anonymous.status_code == 401, (key, anonymous.status_code)
    least = ROLE_ORDER.index(rule.access)
    for role in ROLE_ORDER:
        response = _call(client, key, headers=tokens[role], json={} if key.split()[0] != "GET" else None)
        if ROLE_ORDER.index(role) < least:
            assert response.status_code == 403, (key, role, response.status_code)
        else:
            assert response.status_code not in (401, 403), (key, role, response.status_code)


@pytest.mark.parametrize("key", sorted(k for k, r in RULES.items() if r.scoped))
def test_other_halls_data_is_not_found(client, tokens, key):
    path, options = RULES[key].scoped(client, tokens)
    method = key.split()[0]
    other = client.open(path, method=method, headers=tokens["staff_b"], **options)
    assert other.status_code == 404, (key, other.status_code, other.get_json())
    own = client.open(path, method=method, headers=tokens["staff"], **options)
    assert 200 <= own.status_code < 300, (key, own.status_code, own.get_json())
    # The district supervisor sees it too (a repeated action may be refused by state, never hidden).
    above = client.open(path, method=method, headers=tokens["supervisor"], **options)
    assert above.status_code in (200, 201, 409), (key, above.status_code)

