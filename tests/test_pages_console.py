"""The console (/console/) through the Flask test client: session cookie, CSRF, scope, If-Match, sign-out and
deactivation; the browser tests drive the same in Chromium."""
import re

from sqlalchemy import update

from models import Account, db
from tests.rect_helpers import item_of_rating, make_rating, make_walkthrough, run


def _token(headers: dict) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def sign_in(client, headers) -> str:
    response = client.post("/console/sign-in", data={"token": _token(headers)})
    assert response.status_code == 303, response.get_data(as_text=True)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    page = client.get("/console/")
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)


class Item:
    def __init__(self, row):
        self.id, self.version, self.source_id = row.id, row.version, row.source_id


def _item(hall="HZ-XC") -> Item:
    rating = make_rating(hall=hall)
    run("collect_bad_ratings")
    return Item(item_of_rating(rating["id"]))


def test_sign_in_board_and_scope(client, tokens):
    mine, other = _item(), _item("HZ-XC-HB")
    assert client.get("/console/").status_code == 401  # the sign-in page
    bad = client.post("/console/sign-in", data={"token": "wrong"})
    assert bad.status_code == 401 and "令牌无效" in bad.get_data(as_text=True)
    sign_in(client, tokens["staff_b"])
    board = client.get("/console/").get_data(as_text=True)
    assert f"#{other.id} " in board and f"#{mine.id} " not in board
    assert client.get(f"/console/items/{mine.id}").status_code == 404  # another hall's item by URL
    page = client.get(f"/console/items/{other.id}")
    assert page.status_code == 200 and "回访核实" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store" and "frame-ancestors 'none'" in \
        page.headers["Content-Security-Policy"]


def test_actions_need_the_csrf_token_and_the_current_version(client, tokens):
    item = _item()
    csrf = sign_in(client, tokens["staff"])
    form = {"action": "verify", "resolution": "immediate", "callback_note": "已电话回访", "version": str(item.version)}
    refused = client.post(f"/console/items/{item.id}/actions", data=form)
    assert refused.status_code == 403
    assert client.post(f"/console/items/{item.id}/actions", data={**form, "csrf": "forged"}).status_code == 403
    assert item_of_rating(int(item.source_id)).status == "pending"
    done = client.post(f"/console/items/{item.id}/actions", data={**form, "csrf": csrf})
    assert done.status_code == 303
    assert "整改中" in client.get(done.headers["Location"]).get_data(as_text=True)
    stale = client.post(f"/console/items/{item.id}/actions",
                        data={"action": "appeal", "note": "恶意差评", "version": str(item.version), "csrf": csrf})
    assert stale.status_code == 412 and "该事项已被他人修改，已为您刷新" in stale.get_data(as_text=True)
    assert item_of_rating(int(item.source_id)).status == "rectifying"
    missing = client.post(f"/console/items/{item.id}/actions",
                          data={"action": "submit", "version": str(item.version + 1), "csrf": csrf})
    assert missing.status_code == 422 and "整改措施" in missing.get_data(as_text=True)


def test_sign_out_and_deactivation_end_the_session(client, tokens):
    csrf = sign_in(client, tokens["staff"])
    cookie = client.get_cookie("hf_console", path="/console").value
    assert client.post("/console/sign-out", data={"csrf": csrf}).status_code == 303
    client.set_cookie("hf_console", cookie, path="/console")  # a copy of the old cookie, replayed
    assert client.get("/console/").status_code == 401
    sign_in(client, tokens["supervisor"])
    db.session.execute(update(Account).where(Account.name == "测试-supervisor").values(active=False))
    db.session.commit()
    assert client.get("/console/").status_code == 401


def test_report_and_feedback_open_with_the_session_but_the_api_stays_bearer_only(client, tokens, app):
    sign_in(client, tokens["supervisor"])
    report = client.get("/console/reports/monthly")
    assert report.status_code == 200 and report.mimetype == "text/html"
    assert client.get("/api/v1/reports/monthly?format=html").status_code == 401
    bad_month = client.get("/console/reports/monthly?month=2026/05")
    assert bad_month.status_code == 422 and "月份应为四位年份和两位月份" in bad_month.get_data(as_text=True)
    assert "YYYY" not in bad_month.get_data(as_text=True)
    walk = make_walkthrough()
    feedback = client.get(f"/console/walkthroughs/{walk.id}/feedback")
    assert feedback.status_code == 200 and "体验反馈表" in feedback.get_data(as_text=True)
    with app.test_client() as staff_b:
        sign_in(staff_b, tokens["staff_b"])  # another hall's staff: the same URL is a 404
        assert staff_b.get(f"/console/walkthroughs/{walk.id}/feedback").status_code == 404


def test_sign_in_from_another_site_is_refused(client, tokens):
    response = client.post("/console/sign-in", data={"token": _token(tokens["staff"])},
                           headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403 and "Set-Cookie" not in response.headers


def test_the_tablet_sync_needs_the_session_and_its_csrf_header(client, tokens):
    record = {"id": "6f1c1b1e-9a1d-4c39-8a53-3a4f3d3f7b10", "hall": "HZ-XC", "item": "SB-001", "mode": "accompany",
              "observer": {"name": "李科长"}, "started_at": "2026-11-30T09:30:00+08:00", "status": "draft",
              "findings": []}
    bad = {**record, "id": "7f1c1b1e-9a1d-4c39-8a53-3a4f3d3f7b11", "mode": "nope"}
    assert client.post("/console/sync", json={"walkthroughs": [record]}).status_code == 401
    csrf = sign_in(client, tokens["staff"])
    assert client.post("/console/sync", json={"walkthroughs": [record]}).status_code == 403
    response = client.post("/console/sync", json={"walkthroughs": [record, bad]}, headers={"X-CSRF-Token": csrf})
    results = response.get_json()["results"]
    assert [r["outcome"] for r in results] == ["created", "rejected"] and "mode" in results[1]["errors"]
    page = client.get("/console/walkthroughs/new").get_data(as_text=True)
    assert "pages-walk.js" in page and "李科长" not in page  # records live on the tablet, not in the page


def _form_fields(page: str) -> dict:
    """The form's fields as a browser without script would post them (selected options, checked boxes)."""
    form = page[page.index('<form id="walk-form"'):page.index("</form>", page.index('<form id="walk-form"'))]
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    data |= dict(re.findall(r'<input id="[^"]+" name="([^"]+)"[^>]*? value="([^"]*)"', form))
    for name, options in re.findall(r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options) or re.search(r'<option value="([^"]*)"', options)
        data[name] = chosen.group(1)
    for name in re.findall(r'<input type="checkbox" name="([^"]+)" value="1" checked', form):
        data[name] = "1"
    return data


def test_the_walkthrough_form_without_script_takes_findings_by_step(client, tokens):
    """No script: rows are added and removed by submit buttons, and the record is stored through walkthrough_sync."""
    csrf = sign_in(client, tokens["staff"])
    page = client.get("/console/walkthroughs/new").get_data(as_text=True)
    assert page.count("data-finding>") == 2  # one row, and the script's template row
    data = _form_fields(page) | {"observer-name": "李科长", "started_at": "2026-11-30T09:30"}
    assert data["csrf"] == csrf and data["hall"] == "HZ-XC" and data["findings-0-step"]
    data |= {"findings-0-step": "ticket", "findings-0-description": "取号机故障"}
    page = client.post("/console/walkthroughs/new", data={**data, "add_finding": "1"}).get_data(as_text=True)
    assert 'name="findings-1-description"' in page and "取号机故障" in page
    data = _form_fields(page) | {"findings-0-description": "取号机故障", "findings-1-step": "wait",
                                 "findings-1-description": "等候区没有座位"}
    data.pop("findings-1-needs_rectification")
    page = client.post("/console/walkthroughs/new", data={**data, "add_finding": "1"}).get_data(as_text=True)
    removed = client.post("/console/walkthroughs/new", data={**_form_fields(page), "remove_finding": "2"})
    assert 'name="findings-2-id"' not in removed.get_data(as_text=True)

    stored = client.post("/console/walkthroughs/new", data=data)
    assert stored.status_code == 303 and "saved=created" in stored.headers["Location"]
    assert "记录已保存" in client.get(stored.headers["Location"]).get_data(as_text=True)
    walk = client.get(f"/api/v1/walkthroughs/{data['id']}", headers=tokens["staff"]).get_json()
    assert walk["status"] == "submitted" and walk["started_at"] == "2026-11-30T09:30:00+08:00"
    assert [(f["step"], f["description"], f["needs_rectification"]) for f in walk["findings"]] == [
        ("ticket", "取号机故障", True), ("wait", "等候区没有座位", False)]
    again = client.post("/console/walkthroughs/new", data=data)  # a double post answers the record stored first
    assert again.status_code == 303 and "saved=unchanged" in again.headers["Location"]
    changed = client.post("/console/walkthroughs/new", data={**data, "summary": "补一句"})
    assert changed.status_code == 422 and "已提交，不能再修改" in changed.get_data(as_text=True)


def test_a_rejected_walkthrough_comes_back_with_its_errors_beside_the_fields(client, tokens):
    sign_in(client, tokens["staff"])
    data = _form_fields(client.get("/console/walkthroughs/new").get_data(as_text=True))
    data |= {"observer-name": "王主任", "started_at": "2099-01-01T09:30", "findings-0-step": "wait",
             "findings-0-description": "  "}
    data |= {"findings-1-id": "0d5c8b2e-1f7a-4c3b-9e2d-6a4b8c1d2e3f", "findings-1-step": "queue",
             "findings-1-category": "efficiency", "findings-1-severity": "high", "findings-1-description": "缴费窗口无人"}
    page = client.post("/console/walkthroughs/new", data=data)
    body = page.get_data(as_text=True)
    assert page.status_code == 422 and "记录未保存" in body
    # The blank row is dropped; the rows are numbered as the errors number them.
    assert re.search(r'id="err-findings-0-step">办事环节只能是以下之一', body) and 'name="findings-1-id"' not in body
    assert 'id="findings-0-step" name="findings-0-step" aria-describedby="err-findings-0-step" aria-invalid="true"' \
        in body and "缴费窗口无人" in body
    assert client.get(f"/api/v1/walkthroughs/{data['id']}", headers=tokens["staff"]).status_code == 404
    data["findings-1-step"] = "pay"
    body = client.post("/console/walkthroughs/new", data=data).get_data(as_text=True)
    assert re.search(r'id="err-started_at">开始时间不能晚于当前时间', body)
    data["started_at"] = "2026-11-30T09:30"
    assert client.post("/console/walkthroughs/new", data=data).status_code == 303


def test_the_service_worker_is_served_for_the_form_folder(client, tokens):
    response = client.get("/console/walkthroughs/sw.js")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache" and "script-src 'self'" in \
        response.headers["Content-Security-Policy"]
    assert '"/console/walkthroughs/new"' in body and "pages-walk.js?v=" in body
    sign_in(client, tokens["staff"])
    page = client.get("/console/walkthroughs/new").get_data(as_text=True)
    assert 'data-sw="/console/walkthroughs/sw.js"' in page and "<script>" not in page
