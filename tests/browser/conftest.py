"""Browser fixtures: the app served for real on 127.0.0.1 (a werkzeug thread, ports 8600-8699, or the range in
BROWSER_TEST_PORTS=low-high) on the test database, and one Debian Chromium driven by Playwright for the whole session.
Without Chromium the tests are skipped with a loud warning, or fail when REQUIRE_BROWSER=1 (CI sets it once it has
installed Chromium)."""
import os
import shutil
import socket
import threading

import pytest

from tests.conftest import _empty_all_tables, make_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1024, "height": 768}
_skipped_reason: list[str] = []
A11Y_RESULTS: dict[str, str] = {}
PAGE_WEIGHTS: dict[str, int] = {}


def _free_port() -> int:
    low, high = (int(p) for p in os.environ.get("BROWSER_TEST_PORTS", "8600-8699").split("-"))
    for port in range(low, high + 1):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{high}")


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        reason = "!!! CHROMIUM IS NOT INSTALLED: BROWSER TESTS SKIPPED (apt-get install -y chromium fonts-noto-cjk) !!!"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(reason.replace("SKIPPED", "REQUIRED BUT MISSING"))
        _skipped_reason.append(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright  # here: only browser runs need the driver started

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def live(browser, migrated):
    """The app on a real port, with the demo catalog and one account per role; every table emptied afterwards, as
    the other tests expect to find them."""
    from werkzeug.serving import make_server

    from service import catalog
    from service.accounts import create_account

    app = make_app(migrated)
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    tokens = {}
    with app.app_context():
        catalog.load_demo()
        for key, role, hall in [("staff", "staff", "HZ-XC"), ("staff_b", "staff", "HZ-XC-HB"),
                                ("supervisor", "supervisor", "HZ-XC"), ("admin", "admin", None)]:
            account, token = create_account(role=role, hall_code=hall, name=f"测试-{key}")
            tokens[key] = {"token": token, "id": account.id}
    live = Live(app, f"http://127.0.0.1:{port}", tokens)
    yield live
    server.shutdown()
    thread.join(10)
    from models import db

    with app.app_context():
        _empty_all_tables()
        db.session.remove()
        db.engine.dispose()


class Live:
    def __init__(self, app, base, tokens):
        self.app, self.base, self.tokens = app, base, tokens

    def url(self, path: str) -> str:
        return self.base + path

    def bearer(self, who="staff") -> dict:
        return {"Authorization": f"Bearer {self.tokens[who]['token']}"}


@pytest.fixture
def phone(browser, live):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.fixture
def tablet(browser, live):
    context = browser.new_context(viewport=TABLET, locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.fixture
def phone_nojs(browser, live):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="zh-CN")
    yield context.new_page()
    context.close()


def pytest_terminal_summary(terminalreporter):
    if _skipped_reason:
        terminalreporter.write_sep("!", _skipped_reason[0], red=True, bold=True)
    if A11Y_RESULTS:
        terminalreporter.write_sep("-", "axe-core (serious/critical violations per page)")
        for name, result in sorted(A11Y_RESULTS.items()):
            terminalreporter.write_line(f"{name}: {result}")
    if PAGE_WEIGHTS:
        terminalreporter.write_sep("-", "first page load, bytes over the wire (document + assets)")
        for name, size in sorted(PAGE_WEIGHTS.items()):
            terminalreporter.write_line(f"{name}: {size}")
