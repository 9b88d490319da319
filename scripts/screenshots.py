"""Screenshots of every page at phone (390×844) and tablet (1024×768) size into docs/screenshots/ (docs/pages.md shows
them). Runs on a throw-away SQLite database with the demo catalog, served on 127.0.0.1:86xx (or the range in
BROWSER_TEST_PORTS=low-high), in Debian's Chromium.

    .venv/bin/python scripts/screenshots.py [OUT_DIR]
"""
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from cryptography.fernet import Fernet
from flask_migrate import upgrade
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "screenshots-only")
os.environ.setdefault("PII_KEY", Fernet.generate_key().decode())

from factory import create_app  # noqa: E402
from jobs import JOBS  # noqa: E402
from service import calendar_admin, catalog  # noqa: E402
from service.accounts import create_account  # noqa: E402

SIZES = {"phone": {"width": 390, "height": 844}, "tablet": {"width": 1024, "height": 768}}
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]


def seed(app) -> dict:
    with app.app_context():
        upgrade()
        catalog.load_demo()
        calendar_admin.import_package()
        _, staff = create_account(role="staff", hall_code="HZ-XC", name="窗口甲")
        _, supervisor = create_account(role="supervisor", hall_code="HZ-XC", name="督查科")
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {staff}"}

    def case():
        body = {"case_no": f"SHOT{case.n}", "hall": "HZ-XC", "item": "SB-001", "window": "04"}
        case.n += 1
        return client.post("/api/v1/cases", json=body, headers=bearer).get_json()["rating_token"]
    case.n = 1

    open_token, rated_token, answered_token = case(), case(), case()
    rating = client.post("/api/v1/ratings", json={"rating_token": rated_token, "score": 1, "channel": "web",
                                                  "tags": ["QUEUE"], "comment": "排队一个多小时，叫号系统不准"}).get_json()
    answered = client.post("/api/v1/ratings", json={"rating_token": answered_token, "score": 2, "channel": "web",
                                                    "comment": "材料清单和窗口要求不一致"}).get_json()
    with app.app_context():
        JOBS["collect_bad_ratings"](holder="screenshots")
    items = {i["source_id"]: i["id"] for i in
             client.get("/api/v1/rectifications?hall=HZ-XC", headers=bearer).get_json()["items"]}
    for rated in (rating, answered):
        for action in ({"action": "verify", "resolution": "immediate", "callback_note": "已电话回访，情况属实"},
                       {"action": "submit", "measures": "高峰期增开社保窗口，叫号屏改为实时显示",
                        "result": "排队缩短到 15 分钟内", "answered": True}):
            client.post(f"/api/v1/rectifications/{items[str(rated['id'])]}/actions", json=action, headers=bearer)
    client.post(f"/api/v1/ratings/{answered['id']}/answer-satisfaction?receipt={answered['receipt']}",
                json={"score": 4})
    return {"open": open_token, "rated": rated_token, "rating": rating, "answered": answered,
            "item": items[str(rating["id"])], "supervisor": supervisor}


def main(out: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed (apt-get install -y chromium fonts-noto-cjk)")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/shots.db", "RATE_LIMIT_ANON_RATINGS": (1000, 60)})
        data = seed(app)
        low, high = (int(p) for p in os.environ.get("BROWSER_TEST_PORTS", "8600-8699").split("-"))
        port = next(p for p in range(low, high + 1) if _free(p))
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
                for size, viewport in SIZES.items():
                    shoot(browser, base, size, viewport, data, out)
                browser.close()
        finally:
            server.shutdown()


def shoot(browser, base: str, size: str, viewport: dict, data: dict, out: Path) -> None:
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    rating = data["rating"]

    def shot(name, path=None):
        if path:
            page.goto(base + path)
        page.screenshot(path=str(out / f"{name}-{size}.png"), full_page=True)
        print(out / f"{name}-{size}.png")

    shot("rate", f"/r/{data['open']}")
    page.get_by_label("非常不满意").check()
    page.locator("label.tag-bad").first.click()
    page.get_by_label("留下联系方式，接受回访").check()
    shot("rate-bad-contact")
    shot("rate-large", f"/r/{data['open']}?large=1")
    page.goto(f"{base}/r/{data['open']}?large=0")
    shot("rate-already-rated", f"/r/{data['rated']}")
    shot("window", "/w/HZ-XC/04")
    shot("mine", f"/my/{rating['id']}?receipt={rating['receipt']}")
    shot("mine-answered", f"/my/{data['answered']['id']}?receipt={data['answered']['receipt']}")
    page.goto(base + "/console/")
    shot("console-sign-in")
    page.get_by_label("账号令牌").fill(data["supervisor"])
    page.get_by_role("button", name="登录").click()
    shot("console-board")
    shot("console-item", f"/console/items/{data['item']}")
    walkthrough(page, base)
    shot("console-walkthrough")
    shot("qr-sheet", "/console/halls/HZ-XC/qr-sheet")
    context.close()


def walkthrough(page, base: str) -> None:
    """The form with a record synced and a rejected one (a start in the future) opened again, two findings each."""
    page.goto(base + "/console/walkthroughs/new")
    for observer, start, findings in (
            ("李科长", "2026-11-30T09:30", [("取号", "严重", "取号机故障，群众只能人工排队"), ("等候", "一般", "等候区座位不足")]),
            ("王主任", "2099-01-01T09:30", [("受理", "一般", "一次性告知单与窗口要求不一致"), ("缴费", "轻微", "缴费只收现金")])):
        page.get_by_label("体验人姓名").fill(observer)
        page.get_by_label("开始时间").fill(start)
        for n, (step, severity, text) in enumerate(findings):
            if n:
                page.get_by_role("button", name="再加一个问题").click()
            row = page.locator("fieldset.finding").nth(n)
            row.get_by_label("办事环节").select_option(label=step)
            row.get_by_label("严重程度").select_option(label=severity)
            row.get_by_label("问题描述").fill(text)
        page.get_by_role("button", name="保存到本机").click()
    page.locator(".outcome-rejected").wait_for()
    page.get_by_role("button", name="修改后重新保存").click()


def _free(port: int) -> bool:
    import socket  # noqa: PLC0415 - here: only the port probe needs it

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
