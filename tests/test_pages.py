"""The citizen's pages and the routes behind them, through the Flask test client (the browser tests are in
tests/browser): token lookup, the no-script form, idempotency, headers, QR codes and their scope."""
import re
from datetime import timedelta

from sqlalchemy import update

from models import Case, db
from service.timeutil import now
from tests.helpers import API, assert_problem, register_case
from tests.rect_helpers import act, fresh, item_of_rating, rater_view, run

FORM = {"key": "page-load-key-0001", "score": "4", "comment": "很好"}


def test_rating_token_describes_the_case_and_its_status(client, tokens):
    case = register_case(client, tokens["staff"], window="04")
    token = case["rating_token"]
    body = client.get(f"{API}/rating-tokens/{token}").get_json()
    assert body == {"hall": "HZ-XC", "hall_name": "西城区政务服务中心", "item": "SB-001",
                    "item_name": body["item_name"], "window": "04", "window_name": body["window_name"],
                    "rate_before": case["rate_before"], "status": "open"}
    assert body["item_name"] and body["window_name"]
    assert client.post(f"{API}/ratings", json={"rating_token": token, "score": 5, "channel": "web"}).status_code == 201
    assert client.get(f"{API}/rating-tokens/{token}").get_json()["status"] == "rated"
    assert_problem(client.get(f"{API}/rating-tokens/nope"), 404, "not_found")
    no_window = register_case(client, tokens["staff"])
    assert "window" not in client.get(f"{API}/rating-tokens/{no_window['rating_token']}").get_json()


def test_an_expired_case_says_so(client, tokens):
    case = register_case(client, tokens["staff"])
    db.session.execute(update(Case).where(Case.case_no == case["case_no"])
                       .values(rate_before=now() - timedelta(minutes=1)))
    db.session.commit()
    assert client.get(f"{API}/rating-tokens/{case['rating_token']}").get_json()["status"] == "expired"
    page = client.get(f"/r/{case['rating_token']}")
    assert page.status_code == 200 and "评价期已结束" in page.get_data(as_text=True)
    posted = client.post(f"/r/{case['rating_token']}", data=FORM)
    assert "评价期已结束" in posted.get_data(as_text=True)


def test_every_page_carries_csp_and_no_inline_script(client, tokens):
    case = register_case(client, tokens["staff"])
    for path in (f"/r/{case['rating_token']}", "/w/HZ-XC/04", "/r/unknown", "/my/1?receipt=x"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
        html = response.get_data(as_text=True)
        assert response.mimetype == "text/html"
        assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html and "<style" not in html


def test_the_plain_form_rates_once_whatever_the_retries(client, tokens):
    case = register_case(client, tokens["staff"])
    first = client.post(f"/r/{case['rating_token']}", data=FORM)
    assert first.status_code == 303
    again = client.post(f"/r/{case['rating_token']}", data=FORM)  # a double tap, a refresh, a retry
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    page = client.get(first.headers["Location"])
    assert "感谢您的评价" in page.get_data(as_text=True) and "很好" in page.get_data(as_text=True)
    other_key = client.post(f"/r/{case['rating_token']}", data={**FORM, "key": "another-page-load"})
    assert other_key.status_code == 409 and "该办件已评价" in other_key.get_data(as_text=True)


def test_the_plain_form_shows_mistakes_in_place_and_keeps_the_key(client, tokens):
    case = register_case(client, tokens["staff"])
    response = client.post(f"/r/{case['rating_token']}",
                           data={"key": "kept-key-123", "score": "1", "contact": "1", "phone": "12345",
                                 "comment": "排队太久"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "手机号码格式不正确" in html and 'value="kept-key-123"' in html and "排队太久" in html
    missing = client.post(f"/r/{case['rating_token']}", data={"key": "kept-key-123"})
    assert missing.status_code == 422 and "请给出评分" in missing.get_data(as_text=True)
    nul = client.post(f"/r/{case['rating_token']}", data={**FORM, "comment": "a\x00b"})
    assert nul.status_code == 422 and nul.mimetype == "text/html"


def test_a_bad_rating_without_script_keeps_the_contact_only_when_asked(client, tokens):
    case = register_case(client, tokens["staff"])
    response = client.post(f"/r/{case['rating_token']}", data={"key": "k-contact-1", "score": "2", "contact": "1",
                                                               "name": "李四", "phone": "13900001111"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "139****1111" in page and "13900001111" not in page
    anonymous = register_case(client, tokens["staff"])
    response = client.post(f"/r/{anonymous['rating_token']}",
                           data={"key": "k-contact-2", "score": "2", "name": "李四", "phone": "13900001111"})
    assert "139****" not in client.get(response.headers["Location"]).get_data(as_text=True)


def test_window_page_and_unknown_window(client, tokens):
    page = client.get("/w/HZ-XC/04")
    assert page.status_code == 200 and 'name="item"' in page.get_data(as_text=True)
    posted = client.post("/w/HZ-XC/04", data={**FORM, "item": "SB-001"})
    assert posted.status_code == 303
    unknown = client.get("/w/HZ-XC/no-such-window")
    assert unknown.status_code == 404 and unknown.mimetype == "text/html"
    assert client.get("/w/NO-HALL/04").status_code == 404


def test_the_raters_page_needs_the_right_receipt(client, tokens):
    case = register_case(client, tokens["staff"])
    location = client.post(f"/r/{case['rating_token']}", data=FORM).headers["Location"]
    rating_id = int(re.search(r"/my/(\d+)", location).group(1))
    assert client.get(f"/my/{rating_id}?receipt=wrong").status_code == 404
    assert client.get(f"/my/{rating_id}").status_code == 404
    assert "no-store" in client.get(location).headers["Cache-Control"]


def test_the_rater_answers_how_the_bad_rating_was_handled(client, tokens, app):
    from service import calendar_admin

    calendar_admin.import_package()
    case = register_case(client, tokens["staff"])
    location = client.post(f"/r/{case['rating_token']}", data={"key": "k-answer", "score": "1"}).headers["Location"]
    rating_id = int(re.search(r"/my/(\d+)", location).group(1))
    receipt = re.search(r"receipt=([^&]+)", location).group(1)
    assert "正在转交大厅处理" in client.get(location).get_data(as_text=True)
    run("collect_bad_ratings")
    item = item_of_rating(rating_id)
    assert "待核实" in client.get(location).get_data(as_text=True)
    act(client, tokens["staff"], item.id, "verify", resolution="immediate", callback_note="已回访")
    act(client, tokens["staff"], item.id, "submit", measures="增开窗口", result="排队缩短", answered=True)
    page = client.get(location).get_data(as_text=True)
    assert "增开窗口" in page and "您对这个处理结果满意吗" in page
    answered = client.post(f"/my/{rating_id}/answer", data={"receipt": receipt, "score": "5"})
    assert answered.status_code == 303
    assert "已收到您对整改结果的评价" in client.get(answered.headers["Location"]).get_data(as_text=True)
    fresh()
    assert item_of_rating(rating_id).rater_satisfaction == 5
    again = client.post(f"/my/{rating_id}/answer", data={"receipt": receipt, "score": "1"})
    assert again.status_code == 409 and "您已评价过" in again.get_data(as_text=True)


def test_after_answering_the_raters_page_shows_the_answer_not_the_question(client, tokens):
    """The answer is read back from the item (the API's rater view), not from the redirect's ?answered=1: opening
    the plain link later shows it; a 回头看 fed back again asks again."""
    from service import calendar_admin

    calendar_admin.import_package()
    case = register_case(client, tokens["staff"])
    location = client.post(f"/r/{case['rating_token']}", data={"key": "k-answer-2", "score": "2"}).headers["Location"]
    rating_id = int(re.search(r"/my/(\d+)", location).group(1))
    receipt = re.search(r"receipt=([^&]+)", location).group(1)
    link = f"/my/{rating_id}?receipt={receipt}"
    run("collect_bad_ratings")
    item = item_of_rating(rating_id)
    act(client, tokens["staff"], item.id, "verify", resolution="immediate", callback_note="已回访")
    act(client, tokens["staff"], item.id, "submit", measures="增开窗口", result="排队缩短", answered=True)
    assert rater_view(client, {"id": rating_id, "receipt": receipt})["rater_satisfaction"] is None
    assert client.post(f"/my/{rating_id}/answer", data={"receipt": receipt, "score": "2"}).status_code == 303
    page = client.get(link).get_data(as_text=True)
    assert "您对这个处理结果满意吗" not in page and 'name="score"' not in page
    assert re.search(r"您对处理结果的评价</dt><dd[^>]*>不满意</dd>", page) and "正在重新整改" in page
    seen = rater_view(client, {"id": rating_id, "receipt": receipt})
    assert seen["rater_satisfaction"] == 2 and seen["rater_answered_at"] and seen["status"] == "rectifying"
    # The hall handles it again and feeds back: the rater is asked about the new answer.
    act(client, tokens["staff"], item.id, "submit", measures="再增开一个窗口", result="排队缩短到十分钟", answered=True)
    assert rater_view(client, {"id": rating_id, "receipt": receipt})["rater_satisfaction"] is None
    assert "您对这个处理结果满意吗" in client.get(link).get_data(as_text=True)
    client.post(f"/my/{rating_id}/answer", data={"receipt": receipt, "score": "5"})
    page = client.get(link).get_data(as_text=True)
    assert "您对这个处理结果满意吗" not in page and re.search(r"您对处理结果的评价</dt><dd[^>]*>非常满意</dd>", page)
    assert "正在重新整改" not in page


def test_the_rater_follows_up_once_on_their_page(client, tokens):
    """追评 from the rater's page, without JavaScript: once, shown afterwards, a second refused in words."""
    case = register_case(client, tokens["staff"])
    location = client.post(f"/r/{case['rating_token']}", data=FORM).headers["Location"]
    rating_id = int(re.search(r"/my/(\d+)", location).group(1))
    receipt = re.search(r"receipt=([^&]+)", location).group(1)
    assert 'name="comment"' in client.get(location).get_data(as_text=True)
    assert client.post(f"/my/{rating_id}/follow-up", data={"receipt": receipt, "comment": ""}).status_code == 422
    done = client.post(f"/my/{rating_id}/follow-up", data={"receipt": receipt, "comment": "后来又去办了一次，快多了"})
    assert done.status_code == 303
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "后来又去办了一次，快多了" in page and 'name="comment"' not in page
    api = client.get(f"{API}/ratings/{rating_id}?receipt={receipt}").get_json()
    assert api["follow_up"]["comment"] == "后来又去办了一次，快多了"
    again = client.post(f"/my/{rating_id}/follow-up", data={"receipt": receipt, "comment": "再追一次"})
    assert again.status_code == 409 and "只能追评一次" in again.get_data(as_text=True)
    wrong = client.post(f"/my/{rating_id}/follow-up", data={"receipt": "wrong", "comment": "冒充"})
    assert wrong.status_code == 404


def test_case_qr_code_is_scoped_and_points_at_the_rating_page(client, tokens):
    case = register_case(client, tokens["staff"])
    svg = client.get(f"{API}/cases/{case['case_no']}/qr.svg?hall=HZ-XC", headers=tokens["staff"])
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and svg.data.startswith(b"<svg")
    assert_problem(client.get(f"{API}/cases/{case['case_no']}/qr.svg?hall=HZ-XC", headers=tokens["staff_b"]), 404)
    assert_problem(client.get(f"{API}/cases/NOPE/qr.svg?hall=HZ-XC", headers=tokens["staff"]), 404)
    assert_problem(client.get(f"{API}/cases/{case['case_no']}/qr.svg?hall=HZ-XC"), 401)
    assert_problem(client.get(f"{API}/cases/{case['case_no']}/qr.svg", headers=tokens["staff"]), 422)


def test_qr_sheet_has_one_code_per_window(client, tokens):
    sheet = client.get(f"{API}/halls/HZ-XC/qr-sheet", headers=tokens["staff"])
    html = sheet.get_data(as_text=True)
    windows = client.get(f"{API}/halls/HZ-XC").get_json()["windows"]
    assert sheet.status_code == 200 and sheet.mimetype == "text/html"
    assert html.count("<svg") == len(windows) > 0
    assert all(f"http://localhost/w/HZ-XC/{w['code']}" in html for w in windows)
    assert_problem(client.get(f"{API}/halls/HZ-XC/qr-sheet", headers=tokens["staff_b"]), 404)


def test_the_openapi_document_describes_the_new_routes(client):
    paths = client.get(f"{API}/openapi.json").get_json()["paths"]
    for path in ("/api/v1/rating-tokens/{token}", "/api/v1/cases/{case_no}/qr.svg", "/api/v1/halls/{code}/qr-sheet"):
        assert path in paths, path
