"""The rater's page after the 差评 was handled, and the console in a real Chromium at tablet size."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from tests.browser.helpers import check_a11y, register_case, sign_in, weigh

pytestmark = pytest.mark.browser
API = "/api/v1"


def _run_job(live, name):
    from jobs import JOBS  # here: the job the scheduler would run, run once by the test

    with live.app.app_context():
        assert JOBS[name](holder="test").status == "ok"


def _bad_rating(live, comment="窗口排队一个多小时"):
    case = register_case(live)
    client = live.app.test_client()
    rating = client.post(f"{API}/ratings", json={"rating_token": case["rating_token"], "score": 1, "channel": "web",
                                                 "comment": comment}).get_json()
    _run_job(live, "collect_bad_ratings")
    items = client.get(f"{API}/rectifications?hall=HZ-XC&source=rating", headers=live.bearer()).get_json()["items"]
    (item,) = [i for i in items if i["source_id"] == str(rating["id"])]
    return rating, item


def _act(live, item_id, who="staff", **body):
    response = live.app.test_client().post(f"{API}/rectifications/{item_id}/actions", json=body,
                                           headers=live.bearer(who))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _handled(live, item_id):
    _act(live, item_id, action="verify", resolution="immediate", callback_note="已电话回访")
    return _act(live, item_id, action="submit", measures="高峰期增开社保窗口", result="排队缩短到 15 分钟", answered=True)


def test_the_rater_sees_what_was_done_and_answers(phone, live):
    rating, item = _bad_rating(live)
    _handled(live, item["id"])
    phone.goto(live.url(f"/my/{rating['id']}?receipt={rating['receipt']}"))
    weigh(phone, "/my/{id} (phone, answered)")
    assert phone.get_by_text("高峰期增开社保窗口").is_visible()
    assert phone.get_by_text("待验收").is_visible()
    check_a11y(phone, "/my/{id} (answered)")
    phone.get_by_label("满意", exact=True).check()
    phone.get_by_role("button", name="提交", exact=True).click()
    expect(phone.get_by_text("已收到您对整改结果的评价")).to_be_visible()
    detail = live.app.test_client().get(f"{API}/rectifications/{item['id']}", headers=live.bearer()).get_json()
    assert detail["rater_satisfaction"] == 4
    # Opened again later from the saved link: the answer given, not the question again.
    phone.goto(live.url(f"/my/{rating['id']}?receipt={rating['receipt']}"))
    given = phone.locator(".answer-given")
    expect(given).to_contain_text("您对处理结果的评价")
    expect(given.locator("dd").first).to_have_text("满意")
    assert phone.get_by_text("您对这个处理结果满意吗").count() == 0
    assert phone.locator("input[name=score]").count() == 0
    check_a11y(phone, "/my/{id} (answer given)")


def test_a_supervisor_accepts_on_the_board_and_a_stale_tab_is_told(tablet, live):
    _, item = _bad_rating(live, comment="材料清单与窗口要求不一致")
    _handled(live, item["id"])
    sign_in(tablet, live, "supervisor")
    weigh(tablet, "/console/ board (tablet, after sign-in: assets cached)")
    check_a11y(tablet, "/console/ (board)")
    tablet.get_by_label("状态").select_option("awaiting_acceptance")
    tablet.get_by_role("button", name="筛选").click()
    tablet.get_by_role("link", name=re.compile(f"#{item['id']} ")).click()
    expect(tablet.get_by_role("heading", name=f"整改事项 #{item['id']}")).to_be_visible()
    check_a11y(tablet, "/console/items/{id}")
    stale = tablet.context.new_page()  # a second tab on the same item, left open
    stale.goto(tablet.url)
    accept = tablet.get_by_role("form", name="验收销号")
    accept.get_by_label("说明").fill("核查属实，同意销号")
    accept.get_by_role("button", name="验收销号").click()
    expect(tablet.get_by_text("已完成：验收销号")).to_be_visible()
    assert tablet.locator("#item-status").inner_text() == "已销号"
    stale.get_by_role("form", name="验收不通过").get_by_label("说明").fill("措施不具体")
    stale.get_by_role("form", name="验收不通过").get_by_role("button").click()
    expect(stale.get_by_role("alert")).to_have_text("该事项已被他人修改，已为您刷新")
    assert stale.locator("#item-status").inner_text() == "已销号"  # refreshed: shows the accepted item
    assert stale.get_by_role("form", name="回头看").is_visible()  # and the actions allowed now
    stale.close()


def test_csrf_is_refused_without_the_token(tablet, live):
    _, item = _bad_rating(live)
    sign_in(tablet, live, "staff")
    tablet.goto(live.url(f"/console/items/{item['id']}"))
    form = tablet.get_by_role("form", name="回访核实")
    form.locator("input[name=csrf]").evaluate("input => input.remove()")
    form.get_by_role("button").click()
    expect(tablet.get_by_role("heading", name="无法完成操作")).to_be_visible()
    check_a11y(tablet, "/console/ (403 page)")
    tablet.goto(live.url(f"/console/items/{item['id']}"))
    assert tablet.locator("#item-status").inner_text() == "待核实"


def test_another_halls_item_by_url_is_a_404_page(tablet, live):
    _, item = _bad_rating(live)
    sign_in(tablet, live, "staff_b")
    response = tablet.goto(live.url(f"/console/items/{item['id']}"))
    assert response.status == 404
    expect(tablet.get_by_role("heading", name="页面不存在")).to_be_visible()


def test_sign_out_and_a_deactivated_account_end_the_session(tablet, live):
    tablet.goto(live.url("/console/"))
    check_a11y(tablet, "/console/ (sign-in)")
    weigh(tablet, "/console/ (sign-in page)")
    sign_in(tablet, live, "staff")
    tablet.get_by_role("button", name=re.compile("退出登录")).click()
    expect(tablet.get_by_role("heading", name="登录整改工作台")).to_be_visible()
    tablet.go_back()
    tablet.reload()
    expect(tablet.get_by_role("heading", name="登录整改工作台")).to_be_visible()

    sign_in(tablet, live, "staff")
    from models import Account, db  # here: deactivation as `flask accounts deactivate` would write it

    with live.app.app_context():
        db.session.execute(update(Account).where(Account.id == live.tokens["staff"]["id"]).values(active=False))
        db.session.commit()
    try:
        tablet.reload()
        expect(tablet.get_by_role("heading", name="登录整改工作台")).to_be_visible()
        assert tablet.get_by_text("请先登录").is_visible()
    finally:
        with live.app.app_context():
            db.session.execute(update(Account).where(Account.id == live.tokens["staff"]["id"]).values(active=True))
            db.session.commit()


def test_the_monthly_report_opens_with_the_session(tablet, live):
    sign_in(tablet, live, "supervisor")
    tablet.get_by_role("link", name="月度报告").click()
    assert tablet.url.endswith("/console/reports/monthly")
    assert "月" in tablet.title()
