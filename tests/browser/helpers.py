"""What the browser tests share: accessibility and weight checks, cases registered through the API."""
import itertools

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.browser.conftest import A11Y_RESULTS, PAGE_WEIGHTS

_axe = Axe()
_numbers = itertools.count(1)
BLOCKING = ("serious", "critical")


def check_a11y(page, name: str) -> None:
    """axe-core on the page as shown: no serious or critical violation."""
    results = _axe.run(page)
    violations = results.response["violations"]
    blocking = [v for v in violations if v.get("impact") in BLOCKING]
    A11Y_RESULTS[name] = (f"{len(blocking)} serious/critical, {len(violations)} in all"
                          + (f" ({', '.join(sorted(v['id'] for v in violations))})" if violations else ""))
    assert not blocking, "\n".join(f"{v['id']} ({v['impact']}): {v['help']} — "
                                   f"{[n['target'] for n in v['nodes']][:3]}" for v in blocking)


def weigh(page, name: str, limit: int = 50_000) -> int:
    """Bytes over the wire for this first load: the document and every resource (headers and body, as sent)."""
    size = page.evaluate("""() => performance.getEntriesByType('navigation').concat(
        performance.getEntriesByType('resource')).reduce((sum, e) => sum + e.transferSize, 0)""")
    PAGE_WEIGHTS[name] = size
    assert 0 < size < limit, size
    return size


def sign_in(page, live, who):
    page.goto(live.url("/console/"))
    page.get_by_label("账号令牌").fill(live.tokens[who]["token"])
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="整改看板")).to_be_visible()


def register_case(live, who="staff", hall="HZ-XC", item="SB-001", window="04") -> dict:
    body = {"case_no": f"WEB{next(_numbers):06d}", "hall": hall, "item": item}
    if window:
        body["window"] = window
    response = live.app.test_client().post("/api/v1/cases", json=body, headers=live.bearer(who))
    assert response.status_code == 201, response.get_json()
    return {**response.get_json(), "hall": hall}


def ratings_of_case(live, case_no: str, hall="HZ-XC") -> list:
    from models import Case, Rating, db  # here: the tests read the rows the server wrote

    with live.app.app_context():
        rows = db.session.execute(select(Rating).join(Case, Case.id == Rating.case_id)
                                  .where(Case.case_no == case_no, Case.hall_code == hall)).scalars().all()
        db.session.remove()
        return rows


def count_ratings(live, **where) -> int:
    from models import Rating, db  # here: the tests read the rows the server wrote

    with live.app.app_context():
        stmt = select(func.count()).select_from(Rating)
        for field, value in where.items():
            stmt = stmt.where(getattr(Rating, field) == value)
        n = db.session.execute(stmt).scalar_one()
        db.session.remove()
        return n
