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
    assert rater_view(client, rating)["measures"] is None
    answer = f"{API}/ratings/{rating['id']}/answer-satisfaction"
    assert_problem(client.post(answer, query_string={"receipt": rating["receipt"]}, json={"score": 5}), 409,
                   "not_answered")

    body = act(client, tokens["staff"], item, "submit", unreachable="评价人未留联系方式", **SUBMIT).get_json()
    assert body["status"] == "awaiting_acceptance" and body["unreachable"] == "评价人未留联系方式"
    assert "评价人未留联系方式" in body["events"][-1]["note"] and body["answered_at"] is None  # not called back
    # Not reachable by phone: the receipt page is how they learn what was done, and they may rate it there.
    seen = rater_view(client, rating)
    assert seen["measures"] == SUBMIT["measures"] and seen["result"] == SUBMIT["result"]
    assert seen["answered_at"] == body["submitted_at"]
    rated = client.post(answer, query_string={"receipt": rating["receipt"]}, json={"score": 4})
    assert rated.status_code == 200 and rated.get_json()["rectification"]["measures"] == SUBMIT["measures"]


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


def _day(n: int) -> date:
    return date(2025, 6, n)


def _detail(client, tokens, item):
    return client.get(f"{API}/rectifications/{item}", headers=tokens["supervisor"]).get_json()


def test_both_clocks_are_fixed_at_creation_and_a_late_verification_stays_late(client, tokens, clock):
    _, item = _item_for(client, tokens)  # 差评 on Mon 9: 核实 by Tue 10, 整改 by Tue 17
    body = _detail(client, tokens, item)
    assert (body["verify_due"], body["due_date"]) == ("2025-06-10", "2025-06-17")
    assert body["verified_on_time"] is None and body["on_time"] is None and body["submitted_at"] is None

    clock.set(_day(12))  # verified two days late
    body = act(client, tokens["staff"], item, "verify", **VERIFY).get_json()
    assert body["verified_on_time"] is False and body["due_date"] == "2025-06-17"  # the late 核实 bought no time
    clock.set(_day(18))
    assert _detail(client, tokens, item)["on_time"] is False  # open and past due: late now
    body = act(client, tokens["staff"], item, "submit", answered=True, **SUBMIT).get_json()
    assert body["on_time"] is False and body["submitted_at"].startswith("2025-06-18")


def test_the_clock_stops_at_submission_and_waiting_for_acceptance_is_the_supervisors(client, tokens, clock):
    _, item = _item_for(client, tokens)
    act(client, tokens["staff"], item, "verify", resolution="scheduled")
    assert _detail(client, tokens, item)["due_date"] == "2025-07-01"  # 15 working days from verify_due, Tue 10
    _, quick = _item_for(client, tokens)
    act(client, tokens["staff"], quick, "verify", **VERIFY)
    clock.set(_day(16))
    act(client, tokens["staff"], quick, "submit", answered=True, **SUBMIT)
    clock.set(_day(20))  # accepted after the deadline: still on time, the wait is the supervisor's
    body = act(client, tokens["supervisor"], quick, "accept", note="核查属实，同意销号").get_json()
    assert (body["status"], body["on_time"], body["accept_wait_days"]) == ("closed", True, 4)


def test_a_rejected_item_runs_on_from_the_old_deadline(client, tokens, clock):
    _, item = _item_for(client, tokens)
    act(client, tokens["staff"], item, "verify", **VERIFY)
    clock.set(_day(16))
    assert act(client, tokens["staff"], item, "submit", answered=True, **SUBMIT).get_json()["on_time"] is True
    clock.set(_day(18))
    body = act(client, tokens["supervisor"], item, "reject", note="整改措施不具体").get_json()
    assert (body["status"], body["due_date"], body["on_time"], body["overdue"]) == \
        ("rectifying", "2025-06-17", False, True)
    body = act(client, tokens["staff"], item, "submit", answered=True, **SUBMIT).get_json()
    assert body["on_time"] is False


def test_appealing_never_pays(client, tokens, clock):
    _, item = _item_for(client, tokens)
    short = act(client, tokens["staff"], item, "appeal", note="恶意差评")
    assert_problem(short, 422, "validation_error")
    act(client, tokens["staff"], item, "appeal", note="评价人当天未到本大厅办事，监控可查，系恶意差评")
    clock.set(_day(13))  # the appeal took Tue 10 … Fri 13: four working days
    assert_problem(act(client, tokens["supervisor"], item, "deny_appeal"), 422, "validation_error")
    body = act(client, tokens["supervisor"], item, "deny_appeal", note="监控显示评价人确曾到窗口办事").get_json()
    # The six working days left on Mon 9 resume: Mon 23, not a fresh five from Fri 13 (Fri 20) nor from the start.
    assert (body["status"], body["due_date"], body["verified_on_time"]) == ("rectifying", "2025-06-23", True)
    notes = {e["action"]: e["note"] for e in body["events"]}
    assert "监控可查" in notes["appeal"] and notes["deny_appeal"].startswith("监控显示评价人确曾到窗口办事")

    _, late = _item_for(client, tokens)  # 差评 of Fri 13: 核实 by Mon 16
    clock.set(_day(17))
    refused = assert_problem(act(client, tokens["staff"], late, "appeal", note="评价人当天未到本大厅办事，系恶意差评"),
                             409, "appeal_window_closed")
    assert "2025-06-16" in refused["detail"]
    _, upheld = _item_for(client, tokens)
    body = act(client, tokens["staff"], upheld, "appeal", note="评价内容为广告，与办件无关，系恶意差评").get_json()
    assert_problem(act(client, tokens["supervisor"], upheld, "uphold_appeal"), 422, "validation_error")
    body = act(client, tokens["supervisor"], upheld, "uphold_appeal", note="评价内容为广告，申诉成立").get_json()
    assert body["status"] == "dismissed" and body["events"][-1]["note"] == "评价内容为广告，申诉成立"


def test_stats_count_the_clocks(client, tokens, clock):
    named, a = _item_for(client, tokens, anonymous=False, phone="13812345678")
    _, b = _item_for(client, tokens)
    _, c = _item_for(client, tokens, anonymous=False, phone="13912345678")
    act(client, tokens["staff"], a, "verify", **VERIFY)  # on time, called back
    clock.set(_day(12))
    act(client, tokens["staff"], b, "verify", resolution="immediate")  # late, no callback (anonymous)
    clock.set(_day(16))
    act(client, tokens["staff"], a, "submit", answered=True, **SUBMIT)
    clock.set(_day(20))
    act(client, tokens["supervisor"], a, "accept", note="核查属实，同意销号")  # waited Tue 17 … Fri 20
    rows = client.get(f"{API}/stats", query_string={"hall": "HZ-XC", "from": "2025-06-01", "to": "2025-06-30"},
                      headers=tokens["supervisor"]).get_json()["rows"]
    row = next(r for r in rows if r["key"] == "HZ-XC")
    # a: submitted on time; b and c open past Tue 17: late now.
    assert row["on_time_rate"] == round(1 / 3, 4)
    # a verified by Tue 10; b verified late; c still pending past its verify_due.
    assert row["verify_on_time_rate"] == round(1 / 3, 4)
    assert row["callback_rate"] == round(1 / 3, 4)  # over all 差评
    assert row["named_callback_rate"] == 0.5  # a and c are named; only a was called back
    assert row["accept_wait_days"] == 4.0


def test_follow_up_once_inside_the_rating_window(client, tokens, clock):
    rating = _rate(client, comment="排队太久", tags=["QUEUE"])
    run("collect_bad_ratings")
    url = f"{API}/ratings/{rating['id']}/follow-up"
    clock.set(_day(11))
    made = client.post(url, query_string={"receipt": rating["receipt"]},
                       json={"comment": "第二次去还是排了一个小时", "tags": ["QUEUE"]})
    assert made.status_code == 201 and set(made.get_json()) == {"id", "created_at"}
    again = client.post(url, query_string={"receipt": rating["receipt"]}, json={"comment": "再说一次"})
    assert_problem(again, 409, "already_followed_up")
    assert_problem(client.post(url, query_string={"receipt": "wrong"}, json={"comment": "冒充"}), 404)

    seen = client.get(f"{API}/ratings/{rating['id']}", query_string={"receipt": rating["receipt"]}).get_json()
    assert seen["follow_up"]["comment"] == "第二次去还是排了一个小时" and seen["follow_up"]["tags"] == ["QUEUE"]
    staff = client.get(f"{API}/ratings/{rating['id']}", headers=tokens["staff"]).get_json()
    assert staff["follow_up"] == seen["follow_up"]
    item = _detail(client, tokens, item_of_rating(rating["id"]).id)
    assert item["events"][-1]["action"] == "followed_up" and "一个小时" in item["events"][-1]["note"]

    late = _rate(client, comment="窗口人员态度差")  # given Wed 11: the window ends Wed 18, same hour
    clock.set(_day(18), hour=11)
    assert_problem(client.post(f"{API}/ratings/{late['id']}/follow-up", query_string={"receipt": late["receipt"]},
                               json={"comment": "补充一句"}), 409, "rating_window_closed")
    assert client.get(f"{API}/ratings/{late['id']}", query_string={"receipt": late["receipt"]}) \
        .get_json()["follow_up"] is None


def test_a_case_ratings_follow_up_window_is_the_cases(client, tokens, clock):
    case = client.post(f"{API}/cases", json={"case_no": "BJ-FU-1", "hall": "HZ-XC", "item": "SB-001"},
                       headers=tokens["staff"]).get_json()  # completed Mon 9 10:00: rate before Mon 16 10:00
    clock.set(_day(10))
    rating = client.post(f"{API}/ratings", json={"rating_token": case["rating_token"], "score": 2,
                                                 "channel": "miniprogram"}).get_json()
    clock.set(_day(16), hour=12)  # inside seven days of the rating, outside the case's window
    assert_problem(client.post(f"{API}/ratings/{rating['id']}/follow-up", query_string={"receipt": rating["receipt"]},
                               json={"comment": "补充：材料清单前后不一"}), 409, "rating_window_closed")


def test_items_say_what_is_known_in_words(client, tokens, clock):
    tagged = _rate(client, tags=["QUEUE", "MATERIALS"])
    bare = _rate(client, score=2)
    run("collect_bad_ratings")
    items = {i["source_id"]: i for i in client.get(f"{API}/rectifications", headers=tokens["staff"]).get_json()["items"]}
    one, two = items[str(tagged["id"])], items[str(bare["id"])]
    assert (one["problem"], one["category"], one["category_label"]) == \
        ("差评（非常不满意）：材料过多、排队时间长", "MATERIALS", "材料过多")
    assert (two["problem"], two["category_label"]) == ("差评（不满意）：未填写评价内容", None)

    from tests.rect_helpers import make_walkthrough

    walk_id = make_walkthrough().id
    run("build_walkthrough_lists")
    lists = client.get(f"{API}/rectification-lists", query_string={"source": "walkthrough"},
                       headers=tokens["staff"]).get_json()["items"]
    assert [(entry["code"], entry["walkthrough_id"]) for entry in lists] == [("WT-HZXC-20250609-01", walk_id)]
    item = client.get(f"{API}/rectifications", query_string={"source": "walkthrough"},
                      headers=tokens["staff"]).get_json()["items"][0]
    assert (item["list_code"], item["category"], item["category_label"]) == ("WT-HZXC-20250609-01", "efficiency", "效率")
