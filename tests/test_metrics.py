"""Metrics on a hand-built data set; every expected figure is worked out here by counting, not by the code."""
from datetime import UTC, date, datetime, timedelta

import pytest

from models import Case, DailyUnitStats, Rating, RatingTag, RollupState, db
from tests.helpers import API, assert_problem

OCT = date(2026, 10, 1)


def _rating(hall, score, day, *, item="SB-001", window="01", staff="S1", is_default=False, effective=True,
            case=None, tags=()):
    moment = datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    rating = Rating(hall_code=hall, item_code=item, window_code=window, staff_no=staff, score=score, channel="web",
                    anonymous=True, is_default=is_default, effective=effective, created_at=moment, rated_on=day,
                    case_id=case.id if case else None, tags=[RatingTag(tag_code=t) for t in tags])
    db.session.add(rating)
    return rating


def _case(hall, no, completed: date, *, expired=True, item="SB-001"):
    moment = datetime(completed.year, completed.month, completed.day, 2, 0, tzinfo=UTC)
    rate_before = moment + timedelta(days=7) if expired else datetime.now(UTC) + timedelta(days=3)
    case = Case(case_no=no, hall_code=hall, item_code=item, window_code="01", staff_no="S1",
                completed_at=moment, rate_before=rate_before, token_hash=f"{no:0>64}")
    db.session.add(case)
    db.session.flush()
    return case


@pytest.fixture(params=["live", "rolled"])
def dataset(request, demo):
    """Two halls in October 2026, with a default rating, an appeal upheld (not effective) and unrated cases."""
    xc = [(5, date(2026, 10, 5)), (4, date(2026, 10, 5)), (3, date(2026, 10, 6)), (2, date(2026, 10, 6)),
          (1, date(2026, 10, 7))]
    for score, day in xc:
        _rating("HZ-XC", score, day, tags=("QUEUE",) if score <= 3 else ("EFFICIENT",))
    _rating("HZ-XC", 1, date(2026, 10, 7), effective=False, tags=("QUEUE",))  # appeal upheld: leaves every metric
    case_a = _case("HZ-XC", "A", date(2026, 10, 5))
    _rating("HZ-XC", 5, date(2026, 10, 5), case=case_a)
    case_b = _case("HZ-XC", "B", date(2026, 10, 6))
    _rating("HZ-XC", 3, date(2026, 10, 13), case=case_b, is_default=True)  # 基本满意 given by default
    _case("HZ-XC", "C", date(2026, 10, 7))  # never rated, window closed
    _case("HZ-XC", "D", date(2026, 10, 8), expired=False)  # still inside its window: not yet counted
    case_e = _case("HZ-XC", "E", date(2026, 10, 8))
    _rating("HZ-XC", 1, date(2026, 10, 8), case=case_e, effective=False)
    jn = [(1, date(2026, 10, 20)), (2, date(2026, 10, 21)), (5, date(2026, 11, 2))]
    for score, day in jn:
        _rating("HZ-XC-JN", score, day, window="02", staff="S9")
    db.session.commit()
    if request.param == "rolled":
        # The same figures must come out when past days are read from the daily rollup.
        from service import rollup

        rollup.refresh()
        assert db.session.query(DailyUnitStats).filter_by(dimension="hall").count() > 0
        assert db.session.query(DailyUnitStats).filter_by(dimension="window").count() > 0
    return {"xc": xc, "jn": jn}


def _rows(client, headers, **query):
    response = client.get(f"{API}/stats", query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return {r["key"]: r for r in response.get_json()["rows"]}


def test_rates_per_hall(client, tokens, dataset):
    rows = _rows(client, tokens["admin"], group_by="hall", **{"from": "2026-10-01", "to": "2026-10-31"})
    # HZ-XC: the five ratings, the rated case A (5), the default of case B (3); not the two that are not effective.
    xc_scores = [s for s, _ in dataset["xc"]] + [5, 3]
    xc = rows["HZ-XC"]
    assert xc["label"] == "西城区政务服务中心"
    assert xc["ratings"] == len(xc_scores)
    assert xc["bad"] == sum(1 for s in xc_scores if s <= 2)
    assert xc["good_rate"] == round(sum(1 for s in xc_scores if s >= 3) / len(xc_scores), 4)
    assert xc["bad_rate"] == round(sum(1 for s in xc_scores if s <= 2) / len(xc_scores), 4)
    # 主动评价率: cases rated or expired = A (rated), B (default), C (expired); D is still open, E was dismissed.
    # Non-default among them: A only.
    assert xc["active_rate"] == round(1 / 3, 4)
    jn_oct = [s for s, d in dataset["jn"] if d.month == 10]
    assert rows["HZ-XC-JN"]["ratings"] == len(jn_oct) and rows["HZ-XC-JN"]["bad_rate"] == 1.0
    assert rows["HZ-XC-JN"]["active_rate"] is None  # no cases: undefined, not zero
    assert "HZ-XC-HB" not in rows


def test_group_by_day_month_window_staff(client, tokens, dataset):
    days = _rows(client, tokens["admin"], group_by="day", **{"from": "2026-10-05", "to": "2026-10-06"})
    assert set(days) == {"2026-10-05", "2026-10-06"}
    assert days["2026-10-05"]["ratings"] == 3  # 5 and 4 and case A's 5
    assert days["2026-10-06"]["bad"] == 1
    months = _rows(client, tokens["admin"], group_by="month", **{"from": "2026-10-01", "to": "2026-11-30"})
    assert months["2026-11"]["ratings"] == 1 and months["2026-10"]["ratings"] == 7 + 2
    windows = _rows(client, tokens["admin"], group_by="window", **{"from": "2026-10-01", "to": "2026-10-31"})
    assert windows["HZ-XC-JN/02"]["ratings"] == 2 and "综合窗口2" in windows["HZ-XC-JN/02"]["label"]
    staff = _rows(client, tokens["admin"], group_by="staff", **{"from": "2026-10-01", "to": "2026-10-31"})
    assert staff["HZ-XC/S1"]["ratings"] == 7
    items = _rows(client, tokens["admin"], group_by="item", **{"from": "2026-10-01", "to": "2026-10-31"})
    assert items["SB-001"]["ratings"] == 9 and items["SB-001"]["label"] == "社会保障卡申领"


def test_scope_limits_what_is_counted(client, tokens, dataset):
    period = {"from": "2026-10-01", "to": "2026-10-31"}
    assert set(_rows(client, tokens["staff"], **period)) == {"HZ-XC"}
    assert set(_rows(client, tokens["supervisor"], **period)) == {"HZ-XC", "HZ-XC-JN"}
    assert set(_rows(client, tokens["supervisor"], hall="HZ-XC-JN", **period)) == {"HZ-XC-JN"}
    assert_problem(client.get(f"{API}/stats", query_string={"hall": "HZ-XC"}, headers=tokens["staff_b"]), 404)
    assert_problem(client.get(f"{API}/stats"), 401)
    assert_problem(client.get(f"{API}/stats", query_string={"group_by": "weekday"}, headers=tokens["admin"]), 422)
    assert_problem(client.get(f"{API}/stats", query_string={"from": "2026-10-31", "to": "2026-10-01"},
                              headers=tokens["admin"]), 422)


def test_tag_shares(client, tokens, dataset):
    """Shares as the survey tables give them: bad tags among 差评, good tags among the rest, defaults left out."""
    response = client.get(f"{API}/stats/tags", query_string={"from": "2026-10-01", "to": "2026-10-31", "hall": "HZ-XC"},
                          headers=tokens["admin"])
    body = response.get_json()
    # hall=HZ-XC covers the district centre and the halls under it (the street hall's October ratings too).
    # Counted by hand: the centre's five tagged ratings and case A's 5 (the default on case B and the two ratings
    # an appeal took out do not count), and the street hall's two October 差评, which carry no tag.
    october_jn = [s for s, d in dataset["jn"] if d.month == 10]
    scores = [s for s, _ in dataset["xc"]] + [5] + october_jn
    bad = [s for s in scores if s <= 2]
    assert body["ratings"] == len(scores) == 8
    tags = {t["code"]: t for t in body["items"]}
    # QUEUE sits on the centre's 3, 2 and 1; the 3 is no 差评, so only the 2 and the 1 count, among 4 差评.
    assert tags["QUEUE"]["count"] == 2 and tags["QUEUE"]["base"] == len(bad) == 4
    assert tags["QUEUE"]["share"] == 0.5
    # EFFICIENT sits on the 5 and the 4, among the four ratings that are not 差评 (5, 4, 3 and case A's 5).
    assert tags["EFFICIENT"]["count"] == 2 and tags["EFFICIENT"]["base"] == 4 and tags["EFFICIENT"]["share"] == 0.5
    assert tags["MATERIALS"]["count"] == 0 and tags["MATERIALS"]["share"] == 0.0
    assert tags["ENVIRONMENT"]["base"] == 8  # an `any` tag can sit on every rating
    groups = {g["applies_to"]: g for g in body["groups"]}
    # 以上均无: the street hall's two 差评; among the rest, the 3 (it carries a bad tag only) and case A's 5.
    assert groups["bad"] == {"applies_to": "bad", "label": "差评", "ratings": 4, "none": 2, "none_share": 0.5}
    assert groups["good"]["ratings"] == 4 and groups["good"]["none"] == 2 and groups["good"]["none_share"] == 0.5
    assert body["items"][0]["count"] == 2  # most frequent first


def _reroll():
    """In the rolled variant, roll everything again so that the ratings (and items) the test added straight into
    the tables are in the rollups too."""
    if db.session.query(DailyUnitStats).count():
        from service import rollup

        db.session.query(DailyUnitStats).delete()
        db.session.query(RollupState).delete()
        db.session.commit()
        rollup.refresh()


def test_every_grouping_adds_up_to_the_range_total(client, tokens, dataset):
    """Rows without a window (or staff number) of different halls are not merged into one row."""
    period = {"from": "2026-10-01", "to": "2026-10-31"}
    _rating("HZ-XC", 4, date(2026, 10, 9), window=None, staff=None)
    _rating("HZ-XC-JN", 2, date(2026, 10, 9), window=None, staff=None)
    _rating("HZ-XC", 1, date(2026, 10, 9), item=None)
    db.session.commit()
    _reroll()
    totals = {}
    for group_by in ("hall", "item", "window", "staff", "day", "month", "department"):
        rows = _rows(client, tokens["admin"], group_by=group_by, **period)
        totals[group_by] = sum(r["ratings"] for r in rows.values())
    assert len(set(totals.values())) == 1, totals
    windows = _rows(client, tokens["admin"], group_by="window", **period)
    assert windows["HZ-XC"]["ratings"] == 1 and windows["HZ-XC-JN"]["ratings"] == 1
    assert "未指定窗口" in windows["HZ-XC"]["label"]
    staff = _rows(client, tokens["admin"], group_by="staff", **period)
    assert staff["HZ-XC-JN"]["ratings"] == 1 and staff["HZ-XC-JN"]["bad"] == 1


def test_today_stays_exact_after_a_rollup(client, tokens, dataset):
    from service import rollup

    rollup.refresh()
    before = _rows(client, tokens["admin"], group_by="hall", **{"from": "2026-10-01"})["HZ-XC"]["ratings"]
    assert client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": 1, "channel": "web"}).status_code == 201
    rows = _rows(client, tokens["admin"], group_by="hall", **{"from": "2026-10-01"})
    assert rows["HZ-XC"]["ratings"] == before + 1
    rollup.refresh()  # a second run with nothing new changes nothing
    assert _rows(client, tokens["admin"], group_by="hall", **{"from": "2026-10-01"}) == rows


def test_rectification_rates(client, tokens, dataset):
    """差评整改率, 按期整改率 (an open overdue item is late now), 回访率, 整改满意度 — counted here by hand."""
    from models import RectificationItem, RectificationList

    def stamp(day):
        return datetime(2026, 10, day, 4, tzinfo=UTC)

    ratings = {(r.hall_code, r.score, r.rated_on, r.effective): r for r in db.session.query(Rating)
               if r.score <= 2}
    plan = [  # (hall, score, day, effective) of the rating → the item's state
        (("HZ-XC", 2, date(2026, 10, 6), True), dict(status="closed", due=13, submitted=9, closed=10, callback=True,
                                                      answer=4)),
        (("HZ-XC", 1, date(2026, 10, 7), True), dict(status="rectifying", due=14, callback=True)),  # late now
        (("HZ-XC", 1, date(2026, 10, 7), False), dict(status="dismissed", due=14, callback=True)),  # appeal upheld
        (("HZ-XC-JN", 1, date(2026, 10, 20), True), dict(status="closed", due=22, submitted=23, closed=25,
                                                          answer=2)),  # submitted late
        # Submitted in time, still waiting for acceptance: the clock stopped at submission.
        (("HZ-XC-JN", 2, date(2026, 10, 21), True), dict(status="awaiting_acceptance", due=28, submitted=26)),
    ]
    lst = RectificationList(code="RL-TEST", source="rating", hall_code="HZ-XC", period="2026-W41", status="open")
    db.session.add(lst)
    db.session.flush()
    for key, s in plan:
        rating = ratings[key]
        db.session.add(RectificationItem(
            list_id=lst.id, source="rating", source_id=str(rating.id), source_on=rating.rated_on,
            hall_code=rating.hall_code, item_code="SB-001",
            window_code=rating.window_code, staff_no=rating.staff_no, problem="差评", status=s["status"],
            due_start=date(2026, 10, 1), due_days=5, due_date=date(2026, 10, s["due"]),
            callback_at=stamp(8) if s.get("callback") else None, rater_satisfaction=s.get("answer"),
            submitted_at=stamp(s["submitted"]) if s.get("submitted") else None,
            on_time=s["submitted"] <= s["due"] if s.get("submitted") else None,
            closed_at=stamp(s["closed"]) if s.get("closed") else None, created_at=stamp(1), updated_at=stamp(1)))
    db.session.commit()
    _reroll()  # items written straight into the table, stamped in the past: rolled afresh (rolled variant)

    rows = _rows(client, tokens["admin"], group_by="hall", **{"from": "2026-10-01", "to": "2026-10-31"})
    for hall in ("HZ-XC", "HZ-XC-JN"):
        mine = [s for (h, _, _, effective), s in plan if h == hall and effective]
        closed = [s for s in mine if s["status"] == "closed"]
        submitted = [s for s in mine if s.get("submitted")]
        on_time = [s for s in submitted if s["submitted"] <= s["due"]]
        late_open = [s for s in mine if s["status"] in ("pending", "rectifying")]  # all due dates are past
        answers = [s["answer"] for s in mine if s.get("answer")]
        row = rows[hall]
        assert row["rectified_rate"] == round(len(closed) / len(mine), 4), hall
        assert row["on_time_rate"] == round(len(on_time) / (len(submitted) + len(late_open)), 4), hall
        assert row["callback_rate"] == round(sum(1 for s in mine if s.get("callback")) / len(mine), 4), hall
        assert row["answer_satisfaction"] == round(sum(1 for a in answers if a >= 3) / len(answers), 4), hall
    assert rows["HZ-XC"]["on_time_rate"] == 0.5  # one on time, one open and overdue: late now
    assert rows["HZ-XC-JN"]["on_time_rate"] == 0.5  # one submitted late; one in time, waiting for acceptance
    by_window = _rows(client, tokens["admin"], group_by="window", **{"from": "2026-10-01", "to": "2026-10-31"})
    assert by_window["HZ-XC-JN/02"]["rectified_rate"] == 0.5
    report = client.get(f"{API}/reports/monthly", query_string={"month": "2026-10", "hall": "HZ-XC"},
                        headers=tokens["admin"]).get_json()
    # Items opened in October under HZ-XC (both halls), the dismissed one left out; on time = submitted in time.
    assert report["rectification"] == {"opened": 4, "closed": 2, "on_time": 2, "overdue": 1}


def test_group_by_department(client, tokens, dataset):
    """谁办理谁负责: each rating counts for its item's department; ratings without an item make one 未指定部门 row."""
    from models import RectificationItem, RectificationList

    added = [  # (hall, score, day, item) besides the data set, whose ratings are all of SB-001 (人社局)
        ("HZ-XC", 1, date(2026, 10, 9), "YB-001"),      # 医疗保障局
        ("HZ-XC-JN", 4, date(2026, 10, 10), "YB-002"),  # 医疗保障局
        ("HZ-XC", 2, date(2026, 10, 11), "GA-001"),     # 公安局（户籍）
        ("HZ-XC", 5, date(2026, 10, 12), None),         # no item: 未指定部门
        ("HZ-XC-JN", 1, date(2026, 10, 12), None),      # no item, another hall: the same row
    ]
    made = [_rating(hall, score, day, item=item) for hall, score, day, item in added]
    _rating("HZ-XC", 1, date(2026, 10, 9), item="YB-001", effective=False)  # appeal upheld: counts nowhere
    _case("HZ-XC", "M", date(2026, 10, 9), item="MZ-001")  # 民政局: a case never rated, its window closed
    db.session.flush()
    lst = RectificationList(code="RL-DEPT", source="rating", hall_code="HZ-XC", period="2026-W41", status="open")
    db.session.add(lst)
    db.session.flush()
    stamp = datetime(2026, 10, 15, 4, tzinfo=UTC)
    for rating, status, closed in [(made[0], "closed", stamp), (made[2], "rectifying", None)]:
        db.session.add(RectificationItem(
            list_id=lst.id, source="rating", source_id=str(rating.id), source_on=rating.rated_on,
            hall_code=rating.hall_code, item_code=rating.item_code, window_code=rating.window_code,
            staff_no=rating.staff_no, problem="差评", status=status, due_start=date(2026, 10, 1), due_days=5,
            due_date=date(2026, 10, 20), closed_at=closed, created_at=stamp, updated_at=stamp,
            # the closed one was submitted (and accepted) before its deadline: on time
            submitted_at=closed, on_time=True if closed else None))
    db.session.commit()
    _reroll()

    period = {"from": "2026-10-01", "to": "2026-10-31"}
    rows = _rows(client, tokens["admin"], group_by="department", **period)
    # 人社局: the data set's October ratings (HZ-XC: 5 of its own and case A's 5 and case B's default 3; HZ-XC-JN:
    # the 1 and the 2), all of SB-001.
    sb = [s for s, _ in dataset["xc"]] + [5, 3] + [s for s, d in dataset["jn"] if d.month == 10]
    expected = {"人力资源和社会保障局": sb, "医疗保障局": [1, 4], "公安局（户籍）": [2], None: [5, 1], "民政局": []}
    assert set(rows) == set(expected)
    for key, scores in expected.items():
        row = rows[key]
        assert row["label"] == (key or "未指定部门")
        assert row["ratings"] == len(scores), key
        assert row["bad"] == sum(1 for s in scores if s <= 2), key
        assert row["bad_rate"] == (round(sum(1 for s in scores if s <= 2) / len(scores), 4) if scores else None)
    # 主动评价率 per department: 人社局's cases are A, B, C (rated, default, expired): 1 of 3; 民政局's M: 0 of 1.
    assert rows["人力资源和社会保障局"]["active_rate"] == round(1 / 3, 4)
    assert rows["民政局"]["active_rate"] == 0.0 and rows["医疗保障局"]["active_rate"] is None
    # 差评 items: 医疗保障局's one item is closed on time; 公安局's is open and overdue (late now).
    assert (rows["医疗保障局"]["items"], rows["医疗保障局"]["rectified_rate"], rows["医疗保障局"]["on_time_rate"]) \
        == (1, 1.0, 1.0)
    assert (rows["公安局（户籍）"]["items"], rows["公安局（户籍）"]["rectified_rate"],
            rows["公安局（户籍）"]["on_time_rate"]) == (1, 0.0, 0.0)
    assert rows["人力资源和社会保障局"]["rectified_rate"] is None  # no 差评 item: undefined, not zero
    # The department rows add up to the halls' total, and to the item rows' total.
    halls = _rows(client, tokens["admin"], group_by="hall", **period)
    items = _rows(client, tokens["admin"], group_by="item", **period)
    total = sum(r["ratings"] for r in halls.values())
    assert total == len(sb) + len(added) == sum(r["ratings"] for r in rows.values())
    assert total == sum(r["ratings"] for r in items.values())
    assert sum(r["bad"] for r in rows.values()) == sum(r["bad"] for r in halls.values())
    # Scoped like every grouping: the street hall's staff sees only its own ratings' departments.
    jn = _rows(client, tokens["staff_jn"], group_by="department", **period)
    assert {k: r["ratings"] for k, r in jn.items()} == {"人力资源和社会保障局": 2, "医疗保障局": 1, None: 1}


def test_walkthrough_rectification_rates(client, tokens, demo):
    """source=walkthrough: 整改率 and 按期整改率 of the items of walkthrough findings, counted here by hand."""
    from models import RectificationItem
    from service.timeutil import local_date, now
    from tests.rect_helpers import fresh, make_rating, make_walkthrough, run

    today = local_date(now())
    xc = make_walkthrough("HZ-XC", item="SB-001", findings=((True, "叫号故障"), (True, "材料清单不一致"),
                                                              (True, "指引牌缺失"), (False, "态度好")))
    jn = make_walkthrough("HZ-XC-JN", item="YB-001", findings=((True, "等候区无座椅"), (True, "重复提交材料")))
    make_walkthrough("HZ-XC", status="draft", findings=((True, "草稿不生成事项"),))
    make_rating(score=1, hall="HZ-XC")  # a 差评 item today: counted under source=rating only
    run("build_walkthrough_lists")
    run("collect_bad_ratings")
    items = {i.source_id: i for i in db.session.query(RectificationItem).filter_by(source="walkthrough")}
    assert len(items) == 5  # every finding that needs rectification, none of the draft
    day = timedelta(days=1)
    # The 整改 clock stops at submission: on_time is judged when the item is submitted (None: not submitted).
    states = {  # finding → (status, deadline, closed now?, on_time)
        xc.findings[0].id: ("closed", today + 3 * day, True, True),       # submitted and closed on time
        xc.findings[1].id: ("closed", today - day, True, False),          # submitted late
        xc.findings[2].id: ("rectifying", today - day, False, None),      # open and overdue: late now
        jn.findings[0].id: ("awaiting_acceptance", today + 3 * day, False, True),  # submitted in time: on time
        jn.findings[1].id: ("dismissed", today + 3 * day, False, None),   # out of every figure
    }
    for finding_id, (status, due, closed, on_time) in states.items():
        item = items[finding_id]
        item.status, item.due_date, item.closed_at = status, due, now() if closed else None
        item.on_time, item.submitted_at = on_time, (now() if on_time is not None else None)
    db.session.commit()
    fresh()

    period = {"from": today.isoformat(), "to": today.isoformat()}
    response = client.get(f"{API}/stats", query_string={"group_by": "hall", "source": "walkthrough", **period},
                          headers=tokens["admin"])
    assert response.status_code == 200 and response.get_json()["source"] == "walkthrough"
    halls = {r["key"]: r for r in response.get_json()["rows"]}
    assert set(halls) == {"HZ-XC", "HZ-XC-JN"}
    # HZ-XC: 3 items, 2 closed; 按期: 1 on time of 2 submitted + 1 open overdue.
    assert (halls["HZ-XC"]["items"], halls["HZ-XC"]["rectified_rate"], halls["HZ-XC"]["on_time_rate"]) \
        == (3, round(2 / 3, 4), round(1 / 3, 4))
    # HZ-XC-JN: the dismissed item leaves; the one awaiting acceptance was submitted in time: on time, not closed.
    assert (halls["HZ-XC-JN"]["items"], halls["HZ-XC-JN"]["rectified_rate"], halls["HZ-XC-JN"]["on_time_rate"]) \
        == (1, 0.0, 1.0)
    for row in halls.values():  # nobody rated anything here: rating figures are null, not zero
        assert all(row[name] is None for name in ("ratings", "bad", "good_rate", "bad_rate", "active_rate",
                                                  "callback_rate", "answer_satisfaction"))

    def rows(group_by, headers=tokens["admin"]):
        got = client.get(f"{API}/stats", query_string={"group_by": group_by, "source": "walkthrough", **period},
                         headers=headers)
        assert got.status_code == 200, got.get_json()
        return {r["key"]: r for r in got.get_json()["rows"]}

    departments = rows("department")
    assert {k: (r["items"], r["rectified_rate"]) for k, r in departments.items()} == {
        "人力资源和社会保障局": (3, round(2 / 3, 4)), "医疗保障局": (1, 0.0)}
    assert {k: r["items"] for k, r in rows("item").items()} == {"SB-001": 3, "YB-001": 1}
    by_day = rows("day")[today.isoformat()]  # dated by the walkthrough's submission day
    assert (by_day["items"], by_day["rectified_rate"], by_day["on_time_rate"]) == (4, 0.5, 0.5)
    assert rows("month")[today.strftime("%Y-%m")]["items"] == 4
    assert set(rows("hall", tokens["staff_jn"])) == {"HZ-XC-JN"}  # scoped like every grouping
    # The default source is the 差评 items: today's one 差评, none of the walkthrough items.
    rating_rows = _rows(client, tokens["admin"], group_by="hall", **period)
    assert rating_rows["HZ-XC"]["items"] == 1 and rating_rows["HZ-XC"]["ratings"] == 1
    assert "HZ-XC-JN" not in rating_rows
    for group_by in ("window", "staff"):  # walkthrough items name no window or staff member
        answer = client.get(f"{API}/stats", query_string={"group_by": group_by, "source": "walkthrough"},
                            headers=tokens["admin"])
        assert_problem(answer, 422)
        assert "走流程" in answer.get_json()["detail"]
    assert_problem(client.get(f"{API}/stats", query_string={"source": "cases"}, headers=tokens["admin"]), 422)


def test_unit_groupings_read_the_rollup_and_subtract_upheld_appeals(client, tokens, dataset):
    """Item, window, staff and department rows of rolled days come from the per-unit rollup: a rating slipped into
    a rolled day afterwards is not seen, while an appeal upheld afterwards still leaves every figure."""
    from service import rollup

    rollup.refresh()
    period = {"from": "2026-10-01", "to": "2026-10-31"}
    before = {g: _rows(client, tokens["admin"], group_by=g, **period) for g in ("item", "window", "staff", "department")}
    _rating("HZ-XC", 1, date(2026, 10, 5))  # after the day was rolled: the rollup does not know it
    appealed = db.session.query(Rating).filter_by(hall_code="HZ-XC-JN", rated_on=date(2026, 10, 20)).one()
    appealed.effective = False  # an appeal upheld after the rollup: subtracted by the readers
    db.session.commit()
    after = {g: _rows(client, tokens["admin"], group_by=g, **period) for g in before}
    keys = {"item": "SB-001", "window": "HZ-XC-JN/02", "staff": "HZ-XC-JN/S9", "department": "人力资源和社会保障局"}
    for group_by, key in keys.items():
        assert after[group_by][key]["ratings"] == before[group_by][key]["ratings"] - 1, group_by
        assert after[group_by][key]["bad"] == before[group_by][key]["bad"] - 1, group_by
    assert after["window"]["HZ-XC/01"] == before["window"]["HZ-XC/01"]
