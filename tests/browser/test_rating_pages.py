"""The citizen's pages in a real Chromium: rate a case or a window on a phone, with and without JavaScript."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import check_a11y, count_ratings, ratings_of_case, register_case, weigh

pytestmark = pytest.mark.browser


def test_a_citizen_rates_a_case_on_a_phone_and_a_double_tap_stores_one_rating(phone, live):
    case = register_case(live)
    phone.goto(live.url(f"/r/{case['rating_token']}"))
    weigh(phone, "/r/{token} (phone)")
    assert phone.get_by_role("heading", name="请您评价本次服务").is_visible()
    assert phone.get_by_text("西城区政务服务中心").is_visible()  # Chinese text from the catalog, rendered
    check_a11y(phone, "/r/{token}")
    # Tags stay hidden until a level is chosen, then only the ones that fit it show.
    assert not phone.locator(".tags").is_visible()
    phone.get_by_label("非常满意").check()
    assert phone.locator("label.tag-good").first.is_visible()
    assert not phone.locator("label.tag-bad").first.is_visible()
    phone.locator("label.tag-good").first.click()
    phone.get_by_label("意见或建议").fill("办得很快")
    assert not phone.locator(".contact").is_visible()  # the callback offer is only for a 差评
    check_a11y(phone, "/r/{token} (level chosen)")
    phone.locator("#submit-rating").dblclick()
    phone.wait_for_url(re.compile(r"/my/\d+\?receipt=.+&new=1"))
    assert phone.get_by_role("heading", name="感谢您的评价！").is_visible()
    assert phone.locator(".receipt-link").inner_text().startswith(live.base + "/my/")
    check_a11y(phone, "/my/{id} (after rating)")
    rows = ratings_of_case(live, case["case_no"])
    assert [(r.score, r.comment, r.channel) for r in rows] == [(5, "办得很快", "qrcode")]
    # Back on the link: the case says plainly it was rated.
    phone.goto(live.url(f"/r/{case['rating_token']}"))
    assert phone.get_by_role("heading", name="该办件已评价").is_visible()


def test_a_bad_rating_with_contact_for_the_callback(phone, live):
    case = register_case(live)
    phone.goto(live.url(f"/r/{case['rating_token']}"))
    phone.get_by_label("非常不满意").check()
    assert not phone.locator("label.tag-good").first.is_visible()
    phone.locator("label.tag-bad").first.click()
    assert phone.get_by_text("需要工作人员回访吗？").is_visible()
    phone.get_by_label("留下联系方式，接受回访").check()
    assert phone.get_by_text("我们如何使用您的联系方式").is_visible()
    check_a11y(phone, "/r/{token} (差评 with contact)")
    phone.get_by_label("姓名或称呼").fill("王大爷")
    phone.get_by_label("手机号").fill("1381234567")  # one digit short
    phone.locator("#submit-rating").click()
    expect(phone.locator("#err-phone")).to_contain_text("手机号码格式不正确")
    phone.get_by_label("手机号").fill("13812345678")
    phone.locator("#submit-rating").click()
    phone.wait_for_url(re.compile(r"/my/\d+"))
    assert phone.get_by_text("138****5678").is_visible()
    assert phone.get_by_role("heading", name="处理情况").is_visible()
    (rating,) = ratings_of_case(live, case["case_no"])
    assert (rating.score, rating.anonymous, rating.phone_masked, rating.name_masked) == (1, False, "138****5678", "王**")
    assert rating.phone_enc and b"13812345678" not in rating.phone_enc


def test_the_large_type_switch_persists(phone, live):
    case = register_case(live)
    phone.goto(live.url(f"/r/{case['rating_token']}"))
    size = phone.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    phone.get_by_role("link", name="大字版").click()
    assert phone.evaluate("document.documentElement.classList.contains('large')")
    large = phone.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert large >= size * 1.3
    check_a11y(phone, "/r/{token} (大字版)")
    phone.goto(live.url("/w/HZ-XC/04"))  # another page: the server renders it large from the cookie
    assert phone.evaluate("document.documentElement.classList.contains('large')")
    assert phone.evaluate("localStorage.getItem('hf_large')") == "1"
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= 390
    phone.get_by_role("link", name="标准字号").click()
    phone.reload()
    assert not phone.evaluate("document.documentElement.classList.contains('large')")


def test_twice_the_system_font_size_still_fits_and_targets_are_large(phone, live):
    case = register_case(live)
    phone.context.new_cdp_session(phone).send("Page.setFontSizes", {"fontSizes": {"standard": 32, "fixed": 26}})
    phone.goto(live.url(f"/r/{case['rating_token']}"))
    assert phone.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") >= 32
    phone.get_by_label("不满意", exact=True).check()
    phone.get_by_label("留下联系方式，接受回访").check()
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= 390  # no sideways scrolling
    small = phone.evaluate("""() => [...document.querySelectorAll(`a, button, label.level, label.tag, label.check,
        input:not([type=hidden]):not([type=radio]):not([type=checkbox]), select, textarea`)]
        .filter(e => e.offsetParent !== null)
        .map(e => [e.textContent.trim().slice(0, 12) || e.name, e.getBoundingClientRect()])
        .filter(([, r]) => r.height < 48 || r.width < 48).map(([n]) => n)""")
    assert small == []


def test_with_javascript_blocked_the_plain_form_still_rates(phone_nojs, live):
    page = phone_nojs
    case = register_case(live)
    page.goto(live.url(f"/r/{case['rating_token']}"))
    weigh(page, "/r/{token} (no JS)")
    page.get_by_label("基本满意").check()
    page.get_by_label("意见或建议").fill("还行")
    page.get_by_role("button", name="提交评价").click()
    page.wait_for_url(re.compile(r"/my/\d+\?receipt=.+&new=1"))
    assert page.get_by_role("heading", name="感谢您的评价！").is_visible()
    assert [(r.score, r.comment) for r in ratings_of_case(live, case["case_no"])] == [(3, "还行")]
    # The large-type switch is a plain link, kept by a cookie.
    page.get_by_role("link", name="大字版").click()
    assert page.locator("html.large").count() == 1
    page.goto(live.url(f"/r/{case['rating_token']}"))
    assert page.locator("html.large").count() == 1
    assert page.get_by_role("heading", name="该办件已评价").is_visible()


def test_a_window_qr_code_rates_the_window_without_a_case(tablet, live):
    before = count_ratings(live, hall_code="HZ-XC", window_code="04", case_id=None)
    tablet.goto(live.url("/w/HZ-XC/04"))
    weigh(tablet, "/w/{hall}/{window} (tablet)")
    check_a11y(tablet, "/w/{hall}/{window}")
    tablet.get_by_label("满意", exact=True).check()
    tablet.get_by_label("办理的事项").select_option("SB-001")
    tablet.get_by_role("button", name="提交评价").click()
    tablet.wait_for_url(re.compile(r"/my/\d+"))
    assert count_ratings(live, hall_code="HZ-XC", window_code="04", case_id=None, item_code="SB-001") == before + 1


def test_a_comment_with_markup_shows_as_text(phone, live):
    case = register_case(live)
    phone.goto(live.url(f"/r/{case['rating_token']}"))
    phone.get_by_label("不满意", exact=True).check()
    attack = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'
    phone.get_by_label("意见或建议").fill(attack)
    phone.locator("#submit-rating").click()
    phone.wait_for_url(re.compile(r"/my/\d+"))
    assert phone.locator(".comment").inner_text() == attack
    assert phone.title() != "pwned" and phone.locator(".comment img").count() == 0


def test_unknown_and_expired_tokens_get_a_clear_page(phone, live):
    phone.goto(live.url("/r/not-a-token"))
    assert phone.get_by_role("heading", name="评价码无效").is_visible()
    check_a11y(phone, "/r/{unknown}")
