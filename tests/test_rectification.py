"""一体验一反馈一清单 over HTTP: the full 差评 loop as the rater sees it, every transition, roles, scope, versions."""
import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import Rating, db
from service import calendar_admin, workdays
from service.rectification import ACTIONS
from service.timeutil import local_date, now
from tests.helpers import API, assert_problem
from tests.rect_helpers import act, item_of_rating, make_rating, rater_view, run

ACTION_FIELDS = {"verify": {"resolution": "immediate", "callback_note": "已电话回访，群众反映属实"},
                 "appeal": {"note": "评价内容与办件无关，疑似恶意差评"},
                 "uphold_appeal": {"note": "经查评价内容与办件无关，申诉成立"},
                 "deny_appeal": {"note": "监控显示确有排队过久，申诉不成立"},
                 "submit": {"measures": "增开一个社保窗口", "result": "高峰期排队缩短到 15 分钟内", "answered": True},
                 "reject": {"note": "整改措施不具体"}, "reopen": {"note": "回头看：问题复发"}}
# How to reach each status from pending, with an account allowed to take every step.
PATHS = {"pending": [], "rectifying": ["verify"], "awaiting_acceptance": ["verify", "submit"],
         "closed": ["verify", "submit", "accept"], "appealed": ["appeal"], "dismissed": ["appeal", "uphold_appeal"]}


@pytest.fixture
def calendar(app):
    calendar_admin.import_package()


def test_full_loop_the_rater_sees_every_step(client, tokens, calendar):
    case = client.post(f"{API}/cases", json={"case_no": "BJ-LOOP-1", "hall": "HZ-XC", "item": "SB-001",
                                             "window": "04"}, headers=tokens["staff"]).get_json()
    rating = client.post(f"{API}/ratings", json={"rating_token": case["rating_token"], "score": 1,
                                                 "channel": "miniprogram", "comment": "材料要求反复变化"}).get_json()
    assert rater_view(client, rating) is None  # before the job ran

    assert run("collect_bad_ratings").counts == {"items_created": 1, "lists_created": 1}
    seen = rater_view(client, rating)
    assert seen["status"] == "pending" and seen["status_label"] == "待核实"
    verify_due = workdays.deadline(local_date(now()), 1).due
    due = workdays.deadline(verify_due, 5).due  # both clocks fixed at creation
    assert seen["due_date"] == due.isoformat() and seen["measures"] is None

    item = item_of_rating(rating["id"])
    body = act(client, tokens["staff"], item.id, "verify", if_match=item.version, **ACTION_FIELDS["verify"]).get_json()
    assert body["status"] == "rectifying" and body["callback_at"]
    assert body["due_date"] == due.isoformat() and body["verify_due"] == verify_due.isoformat()
    assert body["verified_on_time"] is True
    assert rater_view(client, rating)["status_label"] == "整改中"

    body = act(client, tokens["staff"], item.id, "submit", **ACTION_FIELDS["submit"]).get_json()
    assert body["status"] == "awaiting_acceptance"
    seen = rater_view(client, rating)
    assert seen["measures"] == "增开一个社保窗口" and seen["result"].startswith("高峰期") and seen["answered_at"]

    body = act(client, tokens["supervisor"], item.id, "accept", note="核查属实，同意销号").get_json()
    assert body["status"] == "closed" and body["state_family"] == "closed"
    assert [e["action"] for e in body["events"]] == ["create", "verify", "submit", "accept"]
    assert rater_view(client, rating)["status_label"] == "已销号"

    code = body["list_code"]
    assert client.get(f"{API}/rectification-lists/{code}", headers=tokens["staff"]).get_json()["status"] == "open"
    run("close_finished_lists")  # the week is not over: more 差评 of this week may still arrive
    assert client.get(f"{API}/rectification-lists/{code}", headers=tokens["staff"]).get_json()["status"] == "open"
    from service import jobruns, rectification_jobs

    jobruns.execute("close_finished_lists", lambda **kw: rectification_jobs.close_finished_lists(
        now=kw["now"] + timedelta(days=7), watermark=None))
    lst = client.get(f"{API}/rectification-lists/{code}", headers=tokens["staff"]).get_json()
    assert (lst["status"], lst["items_total"], lst["items_closed"]) == ("closed", 1, 1)

    answer = client.post(f"{API}/ratings/{rating['id']}/answer-satisfaction",
                         query_string={"receipt": rating["receipt"]}, json={"score": 5})
    assert answer.status_code == 200 and answer.get_json()["rectification"]["status"] == "closed"
    detail = client.get(f"{API}/rectifications/{item.id}", headers=tokens["supervisor"]).get_json()
    assert detail["rater_satisfaction"] == 5


def test_unhappy_rater_reopens_the_item(client, tokens, calendar):
    rating = make_rating()
    run("collect_bad_ratings")
    item = item_of_rating(rating["id"])
    url = f"{API}/ratings/{rating['id']}/answer-satisfaction"
    assert_problem(client.post(url, query_string={"receipt": rating["receipt"]}, json={"score": 4}), 409,
                   "not_answered")
    for action in ("verify", "submit", "accept"):
        extra = ACTION_FIELDS.get(action, {})
        assert act(client, tokens["supervisor"], item.id, action, **extra).status_code == 200
    assert_problem(client.post(url, query_string={"receipt": "wrong"}, json={"score": 2}), 404)
    response = client.post(url, query_string={"receipt": rating["receipt"]}, json={"score": 2})
    assert response.status_code == 200
    assert response.get_json()["rectification"]["status_label"] == "整改中"
    # A retry of the same answer changes nothing; another answer to the same feedback is refused.
    assert client.post(url, query_string={"receipt": rating["receipt"]}, json={"score": 2}).status_code == 200
    assert_problem(client.post(url, query_string={"receipt": rating["receipt"]}, json={"score": 5}), 409,
                   "already_answered")
    detail = client.get(f"{API}/rectifications/{item.id}", headers=tokens["staff"]).get_json()
    assert detail["status"] == "rectifying" and detail["rater_satisfaction"] == 2
    last = detail["events"][-2:]
    assert [(e["action"], e["actor"], e["from"], e["to"]) for e in last] == [
        ("answer_satisfaction", "评价人", "closed", "closed"), ("reopen", "评价人", "closed", "rectifying")]
    lst = client.get(f"{API}/rectification-lists/{detail['list_code']}", headers=tokens["staff"]).get_json()
    assert lst["status"] == "open"


def _drive(client, tokens, item_id, path):
    for action in path:
        response = act(client, tokens["admin"], item_id, action, **ACTION_FIELDS.get(action, {}))
        assert response.status_code == 200, response.get_json()


@pytest.mark.slow
def test_every_transition_allowed_and_refused(client, tokens, calendar):
    table = {name: (a.sources, a.to) for name, a in ACTIONS.items()}
    pairs = [(status, action) for status in PATHS for action in ACTIONS]
    ratings = [make_rating() for _ in pairs]
    run("collect_bad_ratings")
    for (status, action), rating in zip(pairs, ratings, strict=True):
        item = item_of_rating(rating["id"])
        _drive(client, tokens, item.id, PATHS[status])
        response = act(client, tokens["admin"], item.id, action, **ACTION_FIELDS.get(action, {}))
        sources, target = table[action]
        if status in sources:
            assert response.status_code == 200, (status, action, response.get_json())
            assert response.get_json()["status"] == target
            assert response.get_json()["events"][-1] == {**response.get_json()["events"][-1], "action": action,
                                                         "from": status, "to": target}
        else:
            problem = assert_problem(response, 409, "action_not_allowed")
            expected = [a for a, (src, _) in table.items() if status in src]
            assert problem["allowed_actions"] == expected, (status, action)
            assert item_of_rating(rating["id"]).status == status


def test_roles_and_scope(client, tokens, calendar):
    here, there = make_rating(hall="HZ-XC"), make_rating(hall="HZ-XC-HB")
    run("collect_bad_ratings")
    mine, other = item_of_rating(here["id"]), item_of_rating(there["id"])
    # Outside the caller's scope the item does not exist.
    assert_problem(client.get(f"{API}/rectifications/{mine.id}", headers=tokens["staff_b"]), 404)
    assert_problem(act(client, tokens["staff_b"], mine.id, "verify", resolution="immediate"), 404)
    assert_problem(act(client, tokens["supervisor_jn"], mine.id, "appeal", note="x"), 404)
    # A supervisor sees the halls under its own.
    assert client.get(f"{API}/rectifications/{other.id}", headers=tokens["supervisor"]).status_code == 200
    # Staff verify, appeal and submit; only supervisors decide appeals and acceptance.
    assert act(client, tokens["staff"], mine.id, "appeal", note="评价人当天未到大厅办事，恶意差评").status_code == 200
    assert_problem(act(client, tokens["staff"], mine.id, "uphold_appeal"), 403, "forbidden")
    assert act(client, tokens["supervisor"], mine.id, "uphold_appeal", note="申诉成立").status_code == 200
    db.session.expire_all()
    assert db.session.get(Rating, here["id"]).effective is False  # an upheld appeal leaves every metric
    assert db.session.get(Rating, there["id"]).effective is True
    assert rater_view(client, here)["status"] == "dismissed"
    for action in ("verify", "submit"):
        assert act(client, tokens["staff_b"], other.id, action, **ACTION_FIELDS[action]).status_code == 200
    for action in ("accept", "reject"):
        assert_problem(act(client, tokens["staff_b"], other.id, action, note="x"), 403)
    assert act(client, tokens["admin"], other.id, "reject", note="证据不足").status_code == 200
    assert_problem(client.get(f"{API}/rectifications/{other.id}"), 401)


def test_stale_version_is_412_and_changes_nothing(client, tokens, calendar):
    rating = make_rating()
    run("collect_bad_ratings")
    item = item_of_rating(rating["id"])
    assert act(client, tokens["staff"], item.id, "verify", if_match=1, resolution="scheduled").status_code == 200
    stale = act(client, tokens["staff"], item.id, "appeal", if_match=1, note="评价与本窗口业务无关，申请复核")
    assert assert_problem(stale, 412, "version_mismatch")["current_version"] == 2
    assert item_of_rating(rating["id"]).status == "rectifying"
    assert act(client, tokens["staff"], item.id, "appeal", if_match='"2"', note="评价与本窗口业务无关，申请复核").status_code == 200
    assert_problem(act(client, tokens["staff"], item.id, "deny_appeal", if_match="abc"), 400, "invalid_if_match")
    # Digits str.isdigit() accepts but int() refuses (superscripts, in the headers' latin-1) are no version either.
    for header in ("²", '"²"', "W/\"¹\"", "3²"):
        assert_problem(act(client, tokens["staff"], item.id, "deny_appeal", if_match=header), 400, "invalid_if_match")
    assert item_of_rating(rating["id"]).version == 3


def test_a_cursor_beyond_the_id_range_is_400_on_every_list(client, tokens, calendar):
    """A forged cursor whose id would overflow the database's 64-bit integer is refused like any forged cursor."""
    make_rating()
    run("collect_bad_ratings")
    lists = ["ratings", "rectifications", "rectification-lists", "walkthroughs"]
    for key in (2**63, 0, -1, 10**30):
        cursor = base64.urlsafe_b64encode(json.dumps({"id": key}).encode()).decode().rstrip("=")
        for name in lists:
            response = client.get(f"{API}/{name}", query_string={"cursor": cursor}, headers=tokens["supervisor"])
            assert_problem(response, 400, "invalid_cursor")
        polled = client.get(f"{API}/rectifications", query_string={"cursor": cursor},
                            headers={**tokens["supervisor"], "If-None-Match": "*"})
        assert_problem(polled, 400, "invalid_cursor")
    largest = base64.urlsafe_b64encode(json.dumps({"id": 2**63 - 1}).encode()).decode().rstrip("=")
    for name in lists:
        response = client.get(f"{API}/{name}", query_string={"cursor": largest}, headers=tokens["supervisor"])
        assert response.status_code == 200, (name, response.get_json())


def test_bad_input_is_4xx_and_changes_nothing(client, tokens, calendar):
    rating = make_rating()
    run("collect_bad_ratings")
    item = item_of_rating(rating["id"])
    body = assert_problem(act(client, tokens["staff"], item.id, "verify"), 422, "validation_error")
    assert "resolution" in body["errors"]
    body = assert_problem(act(client, tokens["staff"], item.id, "verify", resolution="later"), 422)
    assert "resolution" in body["errors"]
    body = assert_problem(act(client, tokens["staff"], item.id, "verify", resolution="immediate",
                              measures="提前写好"), 422)
    assert "measures" in body["errors"]
    assert_problem(act(client, tokens["staff"], item.id, "close"), 422)
    assert_problem(act(client, tokens["staff"], 999999, "verify", resolution="immediate"), 404)
    after = item_of_rating(rating["id"])
    assert (after.status, after.version) == ("pending", 1)


def test_scheduled_resolution_gets_the_longer_deadline(client, tokens, calendar):
    quick, slow = make_rating(), make_rating()
    run("collect_bad_ratings")
    verify_due = workdays.deadline(local_date(now()), 1).due
    a = act(client, tokens["staff"], item_of_rating(quick["id"]).id, "verify", resolution="immediate").get_json()
    b = act(client, tokens["staff"], item_of_rating(slow["id"]).id, "verify", resolution="scheduled").get_json()
    assert a["due_date"] == workdays.deadline(verify_due, 5).due.isoformat()
    assert b["due_date"] == workdays.deadline(verify_due, 15).due.isoformat()
    assert b["resolution"] == "scheduled" and b["overdue"] is False


def test_polling_with_etag_updated_since_and_cursor(client, tokens, calendar):
    for hall in ("HZ-XC", "HZ-XC", "HZ-XC", "HZ-XC-HB"):
        make_rating(hall=hall)
    run("collect_bad_ratings")
    url = f"{API}/rectifications"
    first = client.get(url, headers=tokens["supervisor"])
    assert first.status_code == 200 and len(first.get_json()["items"]) == 4 and first.headers["ETag"]
    item = first.get_json()["items"][0]
    assert set(item) == {"id", "list_code", "source", "source_id", "hall", "item", "window", "problem", "category",
                         "status", "state_family", "status_label", "due_date", "due_provisional", "overdue",
                         "resolution", "measures", "result", "callback_at", "answered_at", "rater_satisfaction",
                         "unreachable", "version", "updated_at", "verify_due", "verified_on_time", "submitted_at",
                         "on_time", "accept_wait_days", "category_label"}
    etag = first.headers["ETag"]
    again = client.get(url, headers={**tokens["supervisor"], "If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == etag
    # Another caller (another scope) or another filter never shares the tag.
    assert client.get(url, headers={**tokens["staff"], "If-None-Match": etag}).status_code == 200
    assert client.get(url, query_string={"hall": "HZ-XC"},
                      headers={**tokens["supervisor"], "If-None-Match": etag}).status_code == 200

    since = first.get_json()["items"][0]["updated_at"]
    assert act(client, tokens["supervisor"], item["id"], "verify", resolution="immediate").status_code == 200
    changed = client.get(url, headers={**tokens["supervisor"], "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    fresh = client.get(url, query_string={"updated_since": since}, headers=tokens["supervisor"]).get_json()["items"]
    assert item["id"] in [i["id"] for i in fresh]
    later = (now() + timedelta(seconds=1)).isoformat()
    assert client.get(url, query_string={"updated_since": later}, headers=tokens["supervisor"]).get_json()[
        "items"] == []

    page1 = client.get(url, query_string={"limit": 3}, headers=tokens["supervisor"]).get_json()
    page2 = client.get(url, query_string={"limit": 3, "cursor": page1["next_cursor"]},
                       headers=tokens["supervisor"]).get_json()
    ids = [i["id"] for i in page1["items"] + page2["items"]]
    assert len(ids) == 4 == len(set(ids)) and page2["next_cursor"] is None
    assert [i["status"] for i in client.get(url, query_string={"status": "rectifying"},
                                            headers=tokens["supervisor"]).get_json()["items"]] == ["rectifying"]
    assert len(client.get(url, query_string={"hall": "HZ-XC-HB"}, headers=tokens["supervisor"]).get_json()[
        "items"]) == 1
    assert len(client.get(url, headers=tokens["staff_b"]).get_json()["items"]) == 1
    assert_problem(client.get(url, query_string={"hall": "HZ-XC"}, headers=tokens["staff_b"]), 404)
    assert_problem(client.get(url, query_string={"status": "done"}, headers=tokens["staff"]), 422)
    assert_problem(client.get(url, query_string={"cursor": "@@"}, headers=tokens["staff"]), 400, "invalid_cursor")
    code = item["list_code"]
    assert len(client.get(url, query_string={"list": code}, headers=tokens["supervisor"]).get_json()["items"]) == 1
    assert len(client.get(url, query_string={"list": "RT-HZ-XC-" + code.split("-")[-2] + "-" + code.split("-")[-1]},
                          headers=tokens["supervisor"]).get_json()["items"]) == 3


def test_overdue_filter_and_flag(client, tokens, calendar):
    old = make_rating(at=now() - timedelta(days=20))
    make_rating()
    run("collect_bad_ratings")
    url = f"{API}/rectifications"
    late = client.get(url, query_string={"overdue": "true"}, headers=tokens["staff"]).get_json()["items"]
    assert [i["source_id"] for i in late] == [str(old["id"])] and late[0]["overdue"] is True
    on_time = client.get(url, query_string={"overdue": "false"}, headers=tokens["staff"]).get_json()["items"]
    assert len(on_time) == 1 and on_time[0]["overdue"] is False
    etag = client.get(url, headers=tokens["staff"]).headers["ETag"]
    run("flag_overdue")
    # The flag is news for a poller: its cached page is no longer current.
    assert client.get(url, headers={**tokens["staff"], "If-None-Match": etag}).status_code == 200
    events = client.get(f"{API}/rectifications/{late[0]['id']}", headers=tokens["staff"]).get_json()["events"]
    assert [e["action"] for e in events] == ["create", "overdue"]


def test_rectification_lists(client, tokens, calendar):
    make_rating(hall="HZ-XC")
    make_rating(hall="HZ-XC-HB")
    run("collect_bad_ratings")
    lists = client.get(f"{API}/rectification-lists", headers=tokens["supervisor"]).get_json()["items"]
    assert len(lists) == 2 and {ls["source"] for ls in lists} == {"rating"}
    year, week, _ = local_date(now()).isocalendar()
    assert {ls["period"] for ls in lists} == {f"{year}-W{week:02d}"}
    assert all(ls["items_total"] == 1 and ls["items_closed"] == 0 and ls["status"] == "open" for ls in lists)
    mine = client.get(f"{API}/rectification-lists", headers=tokens["staff_b"]).get_json()["items"]
    assert [ls["hall"] for ls in mine] == ["HZ-XC-HB"]
    assert_problem(client.get(f"{API}/rectification-lists/{lists[0]['code']}" if lists[0]["hall"] == "HZ-XC"
                              else f"{API}/rectification-lists/{lists[1]['code']}", headers=tokens["staff_b"]), 404)
    assert client.get(f"{API}/rectification-lists", query_string={"status": "closed"},
                      headers=tokens["supervisor"]).get_json()["items"] == []


def test_job_runs_for_supervisors(client, tokens):
    run("collect_bad_ratings")
    runs = client.get(f"{API}/jobs", headers=tokens["supervisor"]).get_json()["items"]
    assert runs[0]["job"] == "collect_bad_ratings" and runs[0]["status"] == "ok" and runs[0]["finished_at"]
    assert runs[0]["counts"] == {"items_created": 0, "lists_created": 0}
    assert client.get(f"{API}/jobs", headers=tokens["admin"]).status_code == 200
    assert_problem(client.get(f"{API}/jobs", headers=tokens["staff"]), 403)


def test_health_reports_the_scheduler_heartbeat(client, app):
    from service import scheduling

    assert client.get(f"{API}/health").get_json()["scheduler"] == {"last_heartbeat": None, "stale": True}
    assert scheduling.acquire("test-holder", 60)
    beat = client.get(f"{API}/health").get_json()["scheduler"]
    assert beat["stale"] is False and beat["last_heartbeat"].endswith("+08:00")
    assert not scheduling.acquire("another", 60)  # the lease is held
    scheduling.release("test-holder")
    assert scheduling.acquire("another", 60)


def test_a_non_bad_rating_has_no_rectification(client, demo):
    rating = make_rating(score=3)
    run("collect_bad_ratings")
    assert rater_view(client, rating) is None
    assert db.session.execute(select(Rating.effective).where(Rating.id == rating["id"])).scalar() is True
