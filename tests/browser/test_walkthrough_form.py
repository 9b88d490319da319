"""The walkthrough form on a tablet in a real Chromium: findings by step, records kept offline and synced when the
network is back, a rejected record edited and sent again, and the page itself opened offline by its service worker."""
import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import check_a11y, sign_in, weigh

pytestmark = pytest.mark.browser
API = "/api/v1"
FORM = "/console/walkthroughs/new"


def _finding(page, n, step, severity, text, *, needs=True):
    row = page.locator("fieldset.finding").nth(n)
    row.get_by_label("办事环节").select_option(label=step)
    row.get_by_label("严重程度").select_option(label=severity)
    row.get_by_label("问题描述").fill(text)
    if not needs:
        row.get_by_label("需要整改").uncheck()


def _walkthroughs(live, observer):
    listed = live.app.test_client().get(f"{API}/walkthroughs?hall=HZ-XC", headers=live.bearer()).get_json()["items"]
    return [w for w in listed if w["observer"]["name"] == observer]


def test_offline_a_walkthrough_with_findings_under_two_steps_syncs_when_back_online(tablet, live):
    sign_in(tablet, live, "staff")
    tablet.get_by_role("link", name="走流程记录").click()
    expect(tablet.get_by_role("heading", name="我陪群众走流程")).to_be_visible()
    check_a11y(tablet, "/console/walkthroughs/new")
    tablet.context.set_offline(True)

    tablet.get_by_label("体验人姓名").fill("李科长")
    tablet.get_by_label("开始时间").fill("2026-11-30T09:30")
    _finding(tablet, 0, "取号", "严重", "取号机故障，群众只能人工排队")
    tablet.get_by_role("button", name="再加一个问题").click()
    expect(tablet.locator("fieldset.finding")).to_have_count(2)
    # A new finding starts at the step of the one before; it is moved to the next step here.
    assert tablet.locator("fieldset.finding").nth(1).get_by_label("办事环节").input_value() == "ticket"
    _finding(tablet, 1, "等候", "一般", "等候区座位不足", needs=False)
    tablet.get_by_role("button", name="再加一个问题").click()
    _finding(tablet, 2, "等候", "轻微", "写错了的一条")
    tablet.get_by_role("button", name="删除问题 3").click()
    expect(tablet.locator("fieldset.finding")).to_have_count(2)
    check_a11y(tablet, "/console/walkthroughs/new (two findings)")
    tablet.get_by_role("button", name="保存到本机").click()

    tablet.get_by_label("体验人姓名").fill("王主任")  # a start in the future: the server will refuse it
    tablet.get_by_label("开始时间").fill("2099-01-01T09:30")
    _finding(tablet, 0, "缴费", "一般", "缴费只收现金")
    tablet.get_by_role("button", name="保存到本机").click()

    records = tablet.locator("#records li")
    expect(records).to_have_count(2)
    expect(tablet.locator(".outcome-pending")).to_have_count(2)
    expect(records.filter(has_text="李科长")).to_contain_text("发现问题 2 个：取号 1、等候 1")
    expect(tablet.locator("#sync-state")).to_contain_text("离线")
    assert _walkthroughs(live, "李科长") == []  # nothing reached the server while offline

    tablet.context.set_offline(False)  # the browser's "online" event starts the sync
    rejected = records.filter(has_text="王主任")
    expect(rejected.locator(".outcome-rejected")).to_be_visible()
    expect(rejected).to_contain_text("开始时间：开始时间不能晚于当前时间")
    expect(records.filter(has_text="李科长").locator(".outcome")).to_have_text("已同步")
    (stored,) = _walkthroughs(live, "李科长")
    detail = live.app.test_client().get(f"{API}/walkthroughs/{stored['id']}", headers=live.bearer()).get_json()
    assert [(f["step"], f["severity"], f["description"], f["needs_rectification"]) for f in detail["findings"]] == [
        ("ticket", "high", "取号机故障，群众只能人工排队", True), ("wait", "medium", "等候区座位不足", False)]
    assert detail["status"] == "submitted"

    # The rejected record stays on the tablet, opens with its error beside the field, and is sent again.
    rejected.get_by_role("button", name="修改后重新保存").click()
    expect(tablet.locator("#err-started_at")).to_have_text("开始时间不能晚于当前时间")
    expect(tablet.get_by_label("开始时间")).to_have_attribute("aria-invalid", "true")
    assert tablet.locator("fieldset.finding").nth(0).get_by_label("问题描述").input_value() == "缴费只收现金"
    check_a11y(tablet, "/console/walkthroughs/new (a rejected record opened)")
    tablet.get_by_label("开始时间").fill("2026-11-30T10:00")
    tablet.get_by_role("button", name="保存到本机").click()
    expect(records.filter(has_text="王主任").locator(".outcome")).to_have_text("已同步")
    expect(tablet.locator("#err-started_at")).to_have_text("")
    tablet.reload()  # the records and their outcomes are kept on the tablet
    expect(tablet.locator("#records .outcome", has_text="已同步")).to_have_count(2)
    (again,) = _walkthroughs(live, "王主任")
    assert again["id"] == rejected_id(tablet, "王主任")  # the same record, corrected, not a second one


def rejected_id(page, observer):
    return page.locator("#records li", has_text=observer).get_attribute("data-id")


def _kept_page(page):
    """The service worker's copy of the form page, once it has made one (None before)."""
    return page.evaluate("""async () => {
        for (const key of await caches.keys()) {
            const kept = key.startsWith('hf-walk-') && await (await caches.open(key)).match('/console/walkthroughs/new');
            if (kept) return await kept.text();
        }
        return null;
    }""")


def test_the_service_worker_opens_the_form_offline_after_one_visit(tablet, live):
    sign_in(tablet, live, "staff")
    tablet.goto(live.url(FORM))
    weigh(tablet, "/console/walkthroughs/new (tablet, after sign-in: assets cached)", limit=60_000)
    deadline = time.monotonic() + 10
    while (kept := _kept_page(tablet)) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert kept is not None, "the service worker kept no copy of the form"
    # Each render makes new ids; the script leaves the template row's alone, so it tells which render is shown.
    kept_id = re.search(r'<template id="finding-template">.*?name="findings-x-id" value="([^"]+)"', kept, re.S).group(1)

    tablet.context.set_offline(True)
    response = tablet.goto(live.url(FORM))
    assert response is not None and response.from_service_worker
    expect(tablet.get_by_role("heading", name="我陪群众走流程")).to_be_visible()
    # The kept copy, not a fresh render ...
    assert tablet.evaluate("document.getElementById('finding-template').content"
                           ".querySelector('[name$=\"-id\"]').value") == kept_id
    # ... with its stylesheet and script from the cache too: the script runs (it names the save button).
    expect(tablet.get_by_role("button", name="保存到本机")).to_be_visible()
    assert tablet.evaluate("getComputedStyle(document.querySelector('.top')).display") == "flex"
    other = tablet.context.new_page()
    with pytest.raises(Exception, match="ERR_INTERNET_DISCONNECTED"):  # the rest of the console is not kept
        other.goto(live.url("/console/"))
    other.close()

    tablet.get_by_label("体验人姓名").fill("赵组长")
    tablet.get_by_label("开始时间").fill("2026-12-01T14:00")
    _finding(tablet, 0, "受理", "一般", "受理窗口一次性告知不清")
    tablet.get_by_role("button", name="保存到本机").click()
    expect(tablet.locator("#records li", has_text="赵组长").locator(".outcome-pending")).to_be_visible()
    tablet.context.set_offline(False)
    expect(tablet.locator("#records li", has_text="赵组长").locator(".outcome")).to_have_text("已同步")
    assert len(_walkthroughs(live, "赵组长")) == 1

    # Signing out drops the kept copy (it shows the official's name).
    tablet.get_by_role("button", name=re.compile("退出登录")).click()
    expect(tablet.get_by_role("heading", name="登录整改工作台")).to_be_visible()
    tablet.wait_for_function("async () => !(await caches.keys()).some(k => k.startsWith('hf-walk-'))")


def test_with_javascript_blocked_the_form_posts_findings_to_the_server(browser, live):
    context = browser.new_context(viewport={"width": 1024, "height": 768}, java_script_enabled=False, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, live, "staff")
        page.goto(live.url(FORM))
        page.get_by_label("体验人姓名").fill("孙科员")
        page.get_by_label("开始时间").fill("2099-12-01T09:00")  # refused: the page comes back with the error
        _finding(page, 0, "咨询", "一般", "咨询台无人")
        page.get_by_role("button", name="再加一个问题").click()  # a plain submit: the server adds the row
        _finding(page, 1, "出件", "轻微", "出件等了二十分钟")
        page.get_by_role("button", name="保存").click()
        expect(page.locator("#err-started_at")).to_have_text("开始时间不能晚于当前时间")
        assert page.locator("fieldset.finding").nth(1).get_by_label("问题描述").input_value() == "出件等了二十分钟"
        page.get_by_label("开始时间").fill("2026-12-01T09:00")
        page.get_by_role("button", name="保存").click()
        expect(page.get_by_role("status")).to_have_text("记录已保存。")
        (stored,) = _walkthroughs(live, "孙科员")
        assert [f["step"] for f in live.app.test_client().get(f"{API}/walkthroughs/{stored['id']}",
                                                              headers=live.bearer()).get_json()["findings"]] == \
            ["consult", "deliver"]
    finally:
        context.close()
