"""Rankings by 差评率 with the Wilson bound, the worst-decile flag, and the monthly report."""
from datetime import UTC, date, datetime

from models import Finding, Rating, Walkthrough, db
from service.rankings import wilson_lower_bound
from tests.helpers import API, assert_problem


def _bulk(hall, window, day, scores, item="SB-001"):
    moment = datetime(day.year, day.month, day.day, 3, tzinfo=UTC)
    db.session.add_all(Rating(hall_code=hall, item_code=item, window_code=window, staff_no="S1", score=s,
                              channel="web", anonymous=True, is_default=False, effective=True, created_at=moment,
                              rated_on=day) for s in scores)


def test_small_samples_do_not_top_the_ranking(client, tokens):
    oct_day = date(2026, 10, 10)
    _bulk("HZ-XC-HB", "01", oct_day, [1])                      # 1 of 1 bad
    _bulk("HZ-XC", "02", oct_day, [1] * 40 + [5] * 360)        # 40 of 400 bad
    _bulk("HZ-XC", "03", oct_day, [5] * 50)                    # none bad
    db.session.commit()
    body = client.get(f"{API}/rankings", query_string={"period": "2026-10", "by": "window"},
                      headers=tokens["admin"]).get_json()
    order = [r["key"] for r in body["items"]]
    assert order == ["HZ-XC/02", "HZ-XC-HB/01", "HZ-XC/03"]
    first = body["items"][0]
    assert (first["ratings"], first["bad"], first["bad_rate"], first["rank"]) == (400, 40, 0.1, 1)
    assert first["bound"] == wilson_lower_bound(40, 400) and 0.05 < first["bound"] < 0.1
    assert first["rank_last_month"] is None


def test_worst_decile_two_months_running(client, tokens):
    # Eleven windows each month; window 09 is clearly the worst in both September and October.
    for day in (date(2026, 9, 15), date(2026, 10, 15)):
        for w in range(1, 12):
            bad = 30 if w == 9 else w % 3
            _bulk("HZ-XC", f"{w:02d}", day, [1] * bad + [5] * (100 - bad))
    # Window 12 is worst only in October.
    _bulk("HZ-XC", "12", date(2026, 10, 15), [1] * 60 + [5] * 40)
    db.session.commit()
    body = client.get(f"{API}/rankings", query_string={"period": "2026-10", "by": "window"},
                      headers=tokens["supervisor"]).get_json()
    rows = {r["key"]: r for r in body["items"]}
    assert rows["HZ-XC/12"]["rank"] == 1 and rows["HZ-XC/12"]["rank_last_month"] is None
    assert rows["HZ-XC/09"]["rank_last_month"] == 1
    flagged = {k for k, r in rows.items() if r["worst_decile_two_months"]}
    # 12 windows ranked → the worst 2 this month are 12 and 09; last month's worst one was 09.
    assert flagged == {"HZ-XC/09"}
    assert_problem(client.get(f"{API}/rankings", query_string={"period": "2026-13"}, headers=tokens["admin"]), 422)
    assert_problem(client.get(f"{API}/rankings", query_string={"period": "2026-10", "by": "desk"},
                              headers=tokens["admin"]), 422)
    staff_view = client.get(f"{API}/rankings", query_string={"period": "2026-10", "by": "hall"},
                            headers=tokens["staff_b"]).get_json()
    assert staff_view["items"] == []  # HZ-XC-HB had no ratings, and nothing of HZ-XC shows


def _walkthrough(hall, day, findings):
    moment = datetime(day.year, day.month, day.day, 2, tzinfo=UTC)
    import uuid

    wid = str(uuid.uuid4())
    db.session.add(Walkthrough(id=wid, hall_code=hall, item_code="SB-001", mode="accompany", observer_name="赵主任",
                               started_at=moment, status="submitted", submitted_at=moment, content_hash="x" * 64,
                               findings=[Finding(id=str(uuid.uuid4()), position=i, step=step, category=cat,
                                                 description="问题", severity="medium", needs_rectification=needs)
                                         for i, (step, cat, needs) in enumerate(findings)]))


def test_monthly_report_json_and_html(client, tokens):
    _bulk("HZ-XC", "01", date(2026, 9, 3), [5, 5, 1, 3])
    _bulk("HZ-XC", "01", date(2026, 10, 3), [5, 1, 1, 2, 4])
    _bulk("HZ-XC", "04", date(2026, 10, 4), [5, 5, 5])
    _walkthrough("HZ-XC", date(2026, 10, 8), [("wait", "time_limit", True), ("form", "materials", True),
                                              ("wait", "facilities", False)])
    _walkthrough("HZ-XC-HB", date(2026, 10, 9), [("consult", "attitude", True)])  # another hall: not counted
    db.session.commit()
    report = client.get(f"{API}/reports/monthly", query_string={"month": "2026-10"}, headers=tokens["staff"])
    assert report.status_code == 200
    body = report.get_json()
    october, september = [5, 1, 1, 2, 4, 5, 5, 5], [5, 5, 1, 3]
    assert body["hall"]["code"] == "HZ-XC" and body["headline"]["ratings"] == len(october)
    oct_bad = sum(s <= 2 for s in october) / len(october)
    sep_bad = sum(s <= 2 for s in september) / len(september)
    assert body["headline"]["bad_rate"] == round(oct_bad, 4)
    assert body["change"]["bad_rate"] == round(round(oct_bad, 4) - round(sep_bad, 4), 4)
    assert body["walkthroughs"]["walkthroughs"] == 1 and body["walkthroughs"]["findings"] == 3
    assert body["walkthroughs"]["needing_rectification"] == 2
    assert {c["code"]: c["count"] for c in body["walkthroughs"]["by_step"]} == {"wait": 2, "form": 1}
    assert body["worst_windows"][0]["key"] == "HZ-XC/01"
    page = client.get(f"{API}/reports/monthly", query_string={"month": "2026-10", "format": "html"},
                      headers=tokens["staff"])
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "西城区政务服务中心" in html and "<svg" in html and "差评率" in html and "<script" not in html
    assert "等候" in html and "37.5%" in html  # 3 of 8 October ratings are 差评
    assert "核实及时率" in html and "实名差评回访率" in html and "平均等待验收" in html
    # A printable page: styles inline, no script, never framed.
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert_problem(client.get(f"{API}/reports/monthly", query_string={"hall": "HZ-XC"}, headers=tokens["staff_b"]),
                   404)


def test_rankings_by_department(client, tokens):
    """Units are the items' departments across halls; ratings that name no item are ranked nowhere."""
    oct_day, sep_day = date(2026, 10, 10), date(2026, 9, 10)
    _bulk("HZ-XC", "01", oct_day, [1] * 10 + [5] * 30, item="SB-001")     # 人社局: 10 of 40 …
    _bulk("HZ-XC-JN", "01", oct_day, [1] * 2 + [5] * 8, item="SB-003")    # … and 2 of 10 in another hall: 12 of 50
    _bulk("HZ-XC", "04", oct_day, [2] * 3 + [4] * 97, item="YB-001")      # 医疗保障局: 3 of 100
    _bulk("HZ-XC", "07", oct_day, [1], item="GA-001")                     # 公安局（户籍）: 1 of 1
    _bulk("HZ-XC", "02", oct_day, [1] * 5, item=None)                     # no item: not a department
    _bulk("HZ-XC", "04", sep_day, [1] * 20 + [5] * 20, item="YB-002")     # September: 医疗保障局 worst
    db.session.commit()
    body = client.get(f"{API}/rankings", query_string={"period": "2026-10", "by": "department"},
                      headers=tokens["supervisor"]).get_json()
    assert body["by"] == "department"
    counted = {"人力资源和社会保障局": (50, 12), "医疗保障局": (100, 3), "公安局（户籍）": (1, 1)}
    rows = {r["key"]: r for r in body["items"]}
    assert {k: (r["ratings"], r["bad"]) for k, r in rows.items()} == counted
    expected_order = sorted(counted, key=lambda k: (-wilson_lower_bound(counted[k][1], counted[k][0]),
                                                     -counted[k][1]))
    assert [r["key"] for r in body["items"]] == expected_order
    assert expected_order[0] == "人力资源和社会保障局"  # 12 of 50 outranks a single 差评 out of one
    assert rows["医疗保障局"]["label"] == "医疗保障局" and rows["医疗保障局"]["rank_last_month"] == 1
    assert rows["人力资源和社会保障局"]["rank_last_month"] is None
    # The street hall's staff ranks only its own hall's ratings.
    mine = client.get(f"{API}/rankings", query_string={"period": "2026-10", "by": "department"},
                      headers=tokens["staff_jn"]).get_json()
    assert [(r["key"], r["ratings"], r["bad"]) for r in mine["items"]] == [("人力资源和社会保障局", 10, 2)]


def test_monthly_report_department_table(client, tokens):
    _bulk("HZ-XC", "01", date(2026, 10, 3), [5, 1, 1, 2], item="SB-001")  # 人社局
    _bulk("HZ-XC", "04", date(2026, 10, 4), [5, 4, 1], item="YB-001")     # 医疗保障局
    _bulk("HZ-XC-JN", "01", date(2026, 10, 5), [2, 5], item="YB-002")     # 医疗保障局, a hall under HZ-XC
    _bulk("HZ-XC", "02", date(2026, 10, 6), [3], item=None)                # 未指定部门
    _bulk("HZ-XC", "01", date(2026, 11, 2), [1], item="SB-001")           # November: not in the table
    db.session.commit()
    body = client.get(f"{API}/reports/monthly", query_string={"month": "2026-10", "hall": "HZ-XC"},
                      headers=tokens["supervisor"]).get_json()
    table = {d["key"]: d for d in body["by_department"]}
    assert {k: (d["label"], d["ratings"], d["bad"]) for k, d in table.items()} == {
        "人力资源和社会保障局": ("人力资源和社会保障局", 4, 3), "医疗保障局": ("医疗保障局", 5, 2), None: ("未指定部门", 1, 0)}
    assert table["人力资源和社会保障局"]["bad_rate"] == 0.75 and table["医疗保障局"]["bad_rate"] == 0.4
    assert sum(d["ratings"] for d in body["by_department"]) == body["headline"]["ratings"] == 10
    html = client.get(f"{API}/reports/monthly", query_string={"month": "2026-10", "hall": "HZ-XC", "format": "html"},
                      headers=tokens["supervisor"]).get_data(as_text=True)
    section = html.split("各部门评价与整改")[1].split("<h2>")[0]
    assert "医疗保障局" in section and "未指定部门" in section and "75.0%" in section and "40.0%" in section
