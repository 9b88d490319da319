"""A hand-counted month: cases, QR ratings, a default rating, an upheld and a denied appeal, a late verification, an
item waiting for acceptance past its deadline, an unreachable rater — every /stats figure counted here by hand.
And a property: for random ratings, every grouping's rows add up to the range's total."""
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import Rating, db
from service import calendar_admin
from service.timeutil import local_date, start_of_day
from tests.helpers import API
from tests.rect_helpers import Clock, act, item_of_rating, run


def _day(n: int) -> date:
    return date(2025, 6, n)


@pytest.fixture
def clock(app, monkeypatch):
    calendar_admin.import_package()
    c = Clock(monkeypatch, None)
    c.set(_day(9))
    return c


def _rate(client, **body):
    body = {"hall": "HZ-XC", "item": "SB-001", "window": "04", "channel": "qrcode", **body}
    response = client.post(f"{API}/ratings", json=body, headers={"X-Client-Id": str(body)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _case(client, tokens, no):
    return client.post(f"{API}/cases", json={"case_no": no, "hall": "HZ-XC", "item": "SB-001", "window": "04"},
                       headers=tokens["staff"]).get_json()["rating_token"]


SUBMIT = {"measures": "增开一个社保窗口", "result": "高峰期排队缩短到 15 分钟内"}


def _ok(response):
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_hand_counted_month(client, tokens, clock):
    staff, sup = tokens["staff"], tokens["supervisor"]
    # Mon 9: three cases completed; two rated, the third will get the default rating.
    c1 = _case(client, tokens, "BJ-S-1")
    c2 = _case(client, tokens, "BJ-S-2")
    _case(client, tokens, "BJ-S-3")
    _rate(client, rating_token=c1, score=5)
    named_case = _rate(client, rating_token=c2, score=1, anonymous=False, name="张三", phone="13812345678",
                       comment="材料要求反复变化")
    _rate(client, score=4)
    appealed_up = _rate(client, score=1, tags=["QUEUE"])
    appealed_down = _rate(client, score=2)
    late = _rate(client, score=1, anonymous=False, phone="13912345678")
    waiting = _rate(client, score=1)
    untouched = _rate(client, score=2, anonymous=False, phone="13712345678")
    run("collect_bad_ratings")  # every item: 核实 by Tue 10, 整改 by Tue 17
    a, b, c, d, e, f = (item_of_rating(r["id"]).id for r in
                        (named_case, appealed_up, appealed_down, late, waiting, untouched))

    _ok(act(client, staff, a, "verify", resolution="immediate", callback_note="已电话回访"))
    _ok(act(client, staff, b, "appeal", note="评价人当天未到本大厅办事，监控可查"))
    _ok(act(client, staff, e, "verify", resolution="immediate"))  # anonymous: no callback possible
    clock.set(_day(10))
    _ok(act(client, staff, c, "appeal", note="评价内容与本窗口业务无关，申请复核"))  # on the last day of 核实
    clock.set(_day(11))
    _ok(act(client, sup, b, "uphold_appeal", note="监控证实评价人未到场，申诉成立"))
    clock.set(_day(12))
    _ok(act(client, sup, c, "deny_appeal", note="评价与业务有关，申诉不成立"))  # took Wed 11, Thu 12: due Thu 19
    _ok(act(client, staff, d, "verify", resolution="immediate", callback_note="已电话回访"))  # two days late
    clock.set(_day(13))
    _ok(act(client, staff, a, "submit", answered=True, **SUBMIT))
    clock.set(_day(16))
    _ok(act(client, sup, a, "accept", note="同意销号"))  # waited Mon 16: one working day
    _ok(client.post(f"{API}/ratings/{named_case['id']}/answer-satisfaction",
                    query_string={"receipt": named_case["receipt"]}, json={"score": 4}))
    _ok(act(client, staff, e, "submit", unreachable="匿名评价，未留联系方式", **SUBMIT))  # waits past Tue 17
    clock.set(_day(17))
    run("default_ratings")  # C3's window closed Mon 16: a 基本满意 default, dated Tue 17
    clock.set(_day(18))
    _ok(act(client, staff, c, "submit", unreachable="匿名评价，未留联系方式", **SUBMIT))  # by Thu 19: on time
    _ok(act(client, staff, d, "submit", answered=True, **SUBMIT))  # after Tue 17: late
    clock.set(_day(20))
    _ok(act(client, sup, d, "accept", note="同意销号"))  # waited Thu 19, Fri 20
    # f was never verified: past its 核实 and 整改 deadlines.

    query = {"hall": "HZ-XC", "from": "2025-06-01", "to": "2025-06-30"}
    rows = client.get(f"{API}/stats", query_string={**query, "group_by": "hall"}, headers=sup).get_json()["rows"]
    assert [r["key"] for r in rows] == ["HZ-XC"]
    row = rows[0]
    # Effective ratings: C1 5, C2 1, default 3, QR 4, QR 2 (c), QR 1 (d), QR 1 (e), QR 2 (f); the upheld one is out.
    assert (row["ratings"], row["bad"]) == (8, 5)
    assert row["good_rate"] == 0.375 and row["bad_rate"] == 0.625  # 3/8, 5/8
    assert row["active_rate"] == 0.6667  # C1 and C2 rated by their raters / three cases due
    # Items a, c, d, e, f (b dismissed). Closed: a, d.
    assert row["rectified_rate"] == 0.4
    # Submitted by the deadline: a (Fri 13), c (Wed 18 ≤ Thu 19), e (Mon 16); late: d; open past due: f.
    assert row["on_time_rate"] == 0.6
    # Verified by Tue 10: a, c (its appeal), e; late: d; f still pending past Tue 10.
    assert row["verify_on_time_rate"] == 0.6
    assert row["callback_rate"] == 0.4  # a and d of five
    assert row["named_callback_rate"] == 0.6667  # named: a, d, f; called back: a, d
    assert row["answer_satisfaction"] == 1.0  # one answer, 4
    assert row["accept_wait_days"] == 1.5  # a: 1, d: 2
    for group_by in ("item", "window", "staff", "day", "month"):
        grouped = client.get(f"{API}/stats", query_string={**query, "group_by": group_by},
                             headers=sup).get_json()["rows"]
        assert sum(r["ratings"] for r in grouped) == 8 and sum(r["bad"] for r in grouped) == 5, group_by
    waiting_item = client.get(f"{API}/rectifications/{e}", headers=sup).get_json()
    assert (waiting_item["status"], waiting_item["on_time"], waiting_item["overdue"]) == \
        ("awaiting_acceptance", True, False)


GROUPS = ("hall", "item", "window", "staff", "day", "month")
HALLS = ("HZ-XC", "HZ-XC-JN", "HZ-XC-HB")
rating_rows = st.lists(st.tuples(
    st.sampled_from(HALLS), st.sampled_from([None, "01", "02", "04"]), st.sampled_from([None, "S1", "S2"]),
    st.sampled_from([None, "SB-001"]), st.integers(1, 5), st.integers(0, 40), st.booleans()), max_size=25)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rating_rows)
def test_every_grouping_adds_up_to_the_total(client, tokens, rows):
    db.session.query(Rating).delete()
    db.session.commit()
    first = date(2025, 5, 25)
    for hall, window, staff, item, score, offset, effective in rows:
        day = first + timedelta(days=offset)
        at = start_of_day(day) + timedelta(hours=10)
        db.session.add(Rating(hall_code=hall, window_code=window, staff_no=staff, item_code=item, score=score,
                              channel="web", anonymous=True, is_default=False, effective=effective,
                              created_at=at, rated_on=local_date(at)))
    db.session.commit()
    query = {"from": "2025-05-28", "to": "2025-06-30"}
    inside = [r for r in rows if r[6] and 3 <= r[5] <= 36]  # May 28 … Jun 30
    for group_by in GROUPS:
        got = client.get(f"{API}/stats", query_string={**query, "group_by": group_by},
                         headers=tokens["admin"]).get_json()["rows"]
        assert sum(r["ratings"] for r in got) == len(inside), group_by
        assert sum(r["bad"] for r in got) == sum(1 for r in inside if r[4] <= 2), group_by
