"""What a rating page shows before the citizen rates: the case a rating token names, or a window's fixed QR code."""
from sqlalchemy import bindparam, select

from models import Case, Hall, ServiceItem, Window, db

from . import cases, catalog
from .auth import Principal
from .errors import NotFound
from .sqlutil import PlainStatements, plain_statements
from .timeutil import now


def _names():
    return select(Hall.name, ServiceItem.name).select_from(Hall) \
        .join(ServiceItem, ServiceItem.code == bindparam("item")).where(Hall.code == bindparam("hall"))


def _window_name():
    return select(Window.name).where(Window.hall_code == bindparam("hall"), Window.code == bindparam("window"))


def _window_name_of(reads: PlainStatements, hall: str, window: str | None) -> str | None:
    if not window:
        return None
    rows = reads.rows(_window_name, {"hall": hall, "window": window})
    return rows[0][0] if rows else None


def describe(token: str) -> dict:
    """GET /rating-tokens/{token}: the hall, item and window of the case, and whether it can still be rated.
    An unknown token is a 404, so a page can say so plainly."""
    with plain_statements() as reads:
        case = cases.find_by_token(reads, token) if token else None
        if case is None:
            raise NotFound("评价码无效，请核对办件回执上的二维码", code="not_found")
        ((hall_name, item_name),) = reads.rows(_names, {"hall": case.hall_code, "item": case.item_code})
        if case.rating_id is not None:
            status = "rated"
        elif cases.window_closed(case.rate_before, now()):
            status = "expired"
        else:
            status = "open"
        body = {"hall": case.hall_code, "hall_name": hall_name, "item": case.item_code, "item_name": item_name}
        if case.window_code:
            body |= {"window": case.window_code, "window_name": _window_name_of(reads, case.hall_code,
                                                                                  case.window_code)}
        return {**body, "rate_before": case.rate_before, "status": status}


def describe_window(hall_code: str, window_code: str) -> dict:
    """A window's fixed QR code: the hall, the window and the items the hall offers (the citizen may name one)."""
    hall = catalog.get_hall(hall_code)
    window = next((w for w in catalog.hall_windows(hall_code) if w.code == window_code), None)
    if window is None:
        raise NotFound("未找到该窗口，请核对窗口上的二维码")
    return {"hall": hall.code, "hall_name": hall.name, "window": window.code, "window_name": window.name,
            "offered": [{"code": i.code, "name": i.name} for i in catalog.list_items(hall_code)]}


def hall_windows(principal: Principal, hall_code: str) -> dict:
    """The QR sheet of a hall: every window, for staff of that hall (outside the scope looks like unknown)."""
    principal.check_hall(hall_code)
    hall = catalog.get_hall(hall_code)
    return {"hall": hall.code, "hall_name": hall.name,
            "windows": [{"code": w.code, "name": w.name} for w in catalog.hall_windows(hall_code)]}


def case_rating_token(principal: Principal, hall_code: str, case_no: str) -> str:
    """The rating token of a registered case in the caller's scope; another hall's case or an unknown one is a 404.
    The token is derived again (only its hash is stored), so the case must exist before it is handed out."""
    principal.check_hall(hall_code)
    found = db.session.execute(select(Case.id).where(Case.hall_code == hall_code, Case.case_no == case_no)).first()
    if found is None:
        raise NotFound("未找到该办件")
    return cases.rating_token(hall_code, case_no)
