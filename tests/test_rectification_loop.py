"""The 差评 loop cannot skip a step: feedback to the rater before submission, the audited contact for the
callback, the two clocks fixed at creation, appeals that never pay. Time is controlled (tests.rect_helpers.Clock)."""
from datetime import date

import pytest

from service import calendar_admin
from tests.helpers import API, assert_problem
from tests.rect_helpers import Clock, act, item_of_rating, make_rating, rater_view, run

MON = date(2025, 6, 9)  # a plain working week in a published year: Mon 9 … Fri 13, Mon 16 …
VERIFY = {"resolution": "immediate", "callback_note": "已电话回访，群众反映属实"}
SUBMIT = {"measures": "增开一个社保窗口", "result": "高峰期排队缩短到 15 分钟内"}


@pytest.fixture
def clock(app, monkeypatch):
    calendar_admin.import_package()
    c = Clock(monkeypatch, None)
    c.set(MON)
    return c


def _item_for(client, tokens, **rating):
    made = make_rating(**rating)
    run("collect_bad_ratings")
    return made, item_of_rating(made["id"]).id


def test_submit_of_a_rating_item_needs_feedback_to_the_rater(client, tokens, clock):
    rating, item = _item_for(client, tokens)
    act(client, tokens["staff"], item, "verify", **VERIFY)
    refused = act(client, tokens["staff"], item, "submit", **SUBMIT)
    assert_problem(refused, 422, "feedback_required")
    assert client.get(f"{API}/rectifications/{item}", headers=tokens["staff"]).get_json()["status"] == "rectifying"

    body = act(client, tokens["staff"], item, "submit", unreachable="评价人未留联系方式", **SUBMIT).get_json()
    assert body["status"] == "awaiting_acceptance" and body["unreachable"] == "评价人未留联系方式"
    assert "评价人未留联系方式" in body["events"][-1]["note"]
    assert rater_view(client, rating)["measures"] is None  # never told: the receipt shows no measures


def test_submit_with_answered_shows_the_measures_to_the_rater(client, tokens, clock):
    rating, item = _item_for(client, tokens)
    act(client, tokens["staff"], item, "verify", **VERIFY)
    assert_problem(act(client, tokens["staff"], item, "submit", answered=False, **SUBMIT), 422, "feedback_required")
    assert_problem(act(client, tokens["staff"], item, "submit", answered=True, unreachable="x", **SUBMIT), 422,
                   "validation_error")
    assert act(client, tokens["staff"], item, "submit", answered=True, **SUBMIT).status_code == 200
    assert rater_view(client, rating)["measures"] == SUBMIT["measures"]


def _rate(client, **body):
    body = {"hall": "HZ-XC", "item": "SB-001", "window": "04", "score": 1, "channel": "qrcode", **body}
    response = client.post(f"{API}/ratings", json=body, headers={"X-Client-Id": str(body)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_contact_for_the_callback_is_audited_and_scoped(client, tokens, clock):
    named = _rate(client, anonymous=False, name="张三丰", phone="13812345678", comment="材料要求反复变化")
    anonymous = _rate(client, phone="13912345678")
    run("collect_bad_ratings")
    item, other = item_of_rating(named["id"]), item_of_rating(anonymous["id"])
    version = item.version

    got = client.get(f"{API}/rectifications/{item.id}/contact", headers=tokens["staff"])
    assert got.status_code == 200 and got.get_json() == {"name": "张三丰", "phone": "13812345678"}
    assert got.headers["Cache-Control"] == "no-store"
    assert client.get(f"{API}/rectifications/{item.id}/contact", headers=tokens["supervisor"]).status_code == 200
    detail = client.get(f"{API}/rectifications/{item.id}", headers=tokens["staff"]).get_json()
    viewed = [e for e in detail["events"] if e["action"] == "contact_viewed"]
    assert len(viewed) == 2 and all(e["from"] == e["to"] == "pending" for e in viewed)
    assert detail["version"] == version  # a read, not a change: a handler's If-Match stays valid
    # Lists and polls never carry it.
    for url in (f"{API}/rectifications", f"{API}/rectifications/{item.id}", f"{API}/ratings"):
        assert "13812345678" not in client.get(url, headers=tokens["staff"]).get_data(as_text=True)

    assert_problem(client.get(f"{API}/rectifications/{item.id}/contact", headers=tokens["staff_b"]), 404)
    assert_problem(client.get(f"{API}/rectifications/{other.id}/contact", headers=tokens["staff"]), 404, "no_contact")
    assert_problem(client.get(f"{API}/rectifications/{item.id}/contact"), 401)
