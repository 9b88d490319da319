"""The staff and supervisors' console (/console/): sign in with an account token, the rectification board, an item with
its history and allowed actions, and the printable report and 体验反馈表 opened with the session (the walkthrough
form for tablets is in walkthrough_form).

The session is a cookie of its own on /console only (HttpOnly, SameSite=Strict), checked against the account on every
request; the JSON API stays stateless (bearer tokens only), so no API route ever accepts this cookie. Every POST
carries a CSRF token derived from the session."""
from functools import wraps

from flask import g, redirect, request, url_for
from marshmallow import ValidationError

from service import (
    console_sessions,
    rating_tokens,
    rectification,
    rectification_actions,
    rectification_lists,
    rectification_polling,
    reports,
    walkthroughs,
    workdays,
)
from service.database import end_unit_of_work
from service.errors import Conflict, NotFound, PreconditionFailed, Unauthorized, ValidationFailed
from service.inputs import MONTH_FORMAT_MESSAGE
from service.timeutil import local_date, now

from .. import printable
from ..errors import validation_problem
from ..schemas.rectification import ActionIn, RectificationDetail, RectificationPage
from ..schemas.walkthroughs import WalkthroughList
from .api_routes import qr_sheet_response
from .common import error_page, page_blueprint, render

RECT_PAGE, RECT_DETAIL, WALKTHROUGH_LIST = RectificationPage(), RectificationDetail(), WalkthroughList()
blp = page_blueprint("console", __name__, url_prefix="/console", writes_ahead=True)
COOKIE = "hf_console"
ACTION_IN = ActionIn()
STALE = "该事项已被他人修改，已为您刷新"
BOARD_LIMIT = 200
# Events that are not actions (API docs: create, overdue, answer_satisfaction, reopen by the rater, deadline_changed).
EVENT_LABELS = {"create": "生成事项", "overdue": "逾期", "answer_satisfaction": "评价人评价整改结果",
                "deadline_changed": "期限调整", "contact_viewed": "查看联系方式"}


def _cookie() -> str | None:
    return request.cookies.get(COOKIE)


def _sign_in_page(status: int = 200, message: str | None = None):
    response = render("pages/console/sign_in.html", status, message=message)
    if status == 401 and _cookie():
        response.delete_cookie(COOKIE, path="/console")
    return response


def signed_in(view):
    """The session's principal in g.principal, or the sign-in page (401); a POST also needs the CSRF token."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        token = _cookie()
        principal = console_sessions.principal_for(token)
        if principal is None:
            return _sign_in_page(401, "请先登录（登录已过期、已退出或账号已停用）。" if token else None)
        sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token")  # a form, or the tablet's script
        if request.method == "POST" and not console_sessions.csrf_ok(token, sent):
            return error_page(403, "页面已过期或请求来源不明，未执行任何操作。请刷新页面后重试。", "无法完成操作")
        g.principal, g.csrf = principal, console_sessions.csrf_token(token)
        return view(*args, **kwargs)

    return wrapper


def _same_site() -> bool:
    """The sign-in form has no session yet to bind a CSRF token to: refuse it from another site instead."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is None or origin == request.host_url.rstrip("/")


@blp.route("/sign-in", methods=["POST"])
def sign_in():
    if not _same_site():
        return error_page(403, "请求来源不明，未登录。", "无法完成操作")
    try:
        token, _ = console_sessions.sign_in(request.form.get("token"))
    except Unauthorized:
        return _sign_in_page(401, "令牌无效或已停用，请核对后重新输入。")
    response = redirect(url_for("console.board"), 303)
    response.set_cookie(COOKIE, token, max_age=console_sessions.SESSION_HOURS * 3600, path="/console",
                        httponly=True, samesite="Strict", secure=request.is_secure)
    return response


@blp.route("/sign-out", methods=["POST"])
@signed_in
def sign_out():
    console_sessions.sign_out(_cookie())
    response = redirect(url_for("console.board"), 303)
    response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="Strict", secure=request.is_secure)
    return response


# ---- the board -------------------------------------------------------------------------------------------------
def _board_filters() -> dict:
    filters = {}
    if request.args.get("hall"):
        filters["hall"] = request.args["hall"]
    if request.args.get("status") in rectification.STATUSES:
        filters["status"] = request.args["status"]
    if request.args.get("source") in rectification.SOURCES:
        filters["source"] = request.args["source"]
    return filters


def _group(items: list[dict]) -> dict[str, list[dict]]:
    """已逾期, 临期 (due by the next working day), other open items, closed ones (only when asked for by status)."""
    soon = workdays.deadline(local_date(now()), 1).due
    groups = {"overdue": [], "due_soon": [], "open": [], "closed": []}
    for item in items:
        if item["overdue"]:
            groups["overdue"].append(item)
        elif item["state_family"] == "closed":
            groups["closed"].append(item)
        elif item["status"] in rectification.CLOCK_STATUSES and item["due_date"] <= soon.isoformat():
            groups["due_soon"].append(item)
        else:
            groups["open"].append(item)
    return groups


@blp.route("/")
@signed_in
def board():
    filters = _board_filters()
    polled, _ = rectification_polling.poll_items(g.principal, filters, cursor=None, limit=BOARD_LIMIT,
                                                 if_none_match=None)
    page = RECT_PAGE.dump(polled)
    recent = WALKTHROUGH_LIST.dump(walkthroughs.list_for(g.principal, {"status": "submitted"}, cursor=None,
                                                         limit=10))["items"]
    return render("pages/console/board.html", principal=g.principal, csrf=g.csrf, groups=_group(page["items"]),
                  truncated=len(page["items"]) == BOARD_LIMIT, filters=filters, halls=sorted(g.principal.halls or []),
                  statuses=rectification.STATUSES, sources=rectification.SOURCES, walkthroughs=recent)


# ---- one item ----------------------------------------------------------------------------------------------------
def _action_forms(item: dict) -> list[dict]:
    forms = []
    for name in rectification_actions.allowed_actions(g.principal, item["status"]):
        action = rectification.ACTIONS[name]
        fields = [{"name": f, "label": rectification_actions.FIELD_LABELS[f], "required": f in action.required}
                  for f in dict.fromkeys(action.required + action.optional)
                  if f != "answered" or item["source"] == "rating"]
        forms.append({"name": name, "label": action.label, "fields": fields})
    return forms


def _item_page(item_id: int, *, status: int = 200, notice: str | None = None, errors: dict | None = None):
    item = RECT_DETAIL.dump(rectification.get_item(g.principal, item_id))
    feedback_id = None
    if item["source"] == "walkthrough":
        feedback_id = rectification_lists.get_list(g.principal, item["list_code"]).walkthrough_id
    return render("pages/console/item.html", status, principal=g.principal, csrf=g.csrf, item=item,
                  forms=_action_forms(item), resolutions=rectification.RESOLUTIONS, notice=notice,
                  errors=errors or {}, done=request.args.get("done"), feedback_id=feedback_id,
                  event_labels={**EVENT_LABELS, **{k: a.label for k, a in rectification.ACTIONS.items()}},
                  statuses=rectification.STATUSES)


@blp.route("/items/<int:item_id>")
@signed_in
def item_page(item_id):
    return _item_page(item_id)


def _action_from_form() -> dict:
    form = request.form
    data = {"action": form.get("action", "")}
    for field in rectification_actions.EXTRA_FIELDS:
        if field == "answered":
            if form.get("answered") == "1":
                data["answered"] = True
        elif form.get(field, "").strip():
            data[field] = form[field].strip()
    return data


@blp.route("/items/<int:item_id>/actions", methods=["POST"])
@signed_in
def item_action(item_id):
    try:
        data = ACTION_IN.load(_action_from_form())
        rectification_actions.act(g.principal, item_id, data, request.form.get("version"))
    except ValidationError as error:
        errors, detail = validation_problem(error.messages)
        return _item_page(item_id, status=422, notice=detail, errors=errors)
    except PreconditionFailed:
        end_unit_of_work()  # read the item afresh, outside the refused write
        return _item_page(item_id, status=412, notice=STALE)
    except (Conflict, ValidationFailed) as error:
        end_unit_of_work()
        return _item_page(item_id, status=error.status, notice=error.detail, errors=error.errors)
    label = rectification.ACTIONS[data["action"]].label
    return redirect(url_for("console.item_page", item_id=item_id, done=label), 303)


# ---- printable pages opened with the session -------------------------------------------------------------------
@blp.route("/reports/monthly")
@signed_in
def monthly_report():
    month = request.args.get("month") or None
    if month is not None and not (len(month) == 7 and month[4] == "-" and month.replace("-", "").isdigit()):
        return error_page(422, MONTH_FORMAT_MESSAGE)
    report = reports.monthly(g.principal, hall=request.args.get("hall") or None, month=month)
    # The same page as GET /api/v1/reports/monthly?format=html (api/reports.py), for the signed-in browser.
    return printable.monthly_report(report)


@blp.route("/walkthroughs/<walkthrough_id>/feedback")
@signed_in
def feedback(walkthrough_id):
    form = walkthroughs.feedback(g.principal, walkthrough_id)
    # The same page as GET /api/v1/walkthroughs/{id}/feedback?format=html (api/walkthroughs.py).
    return printable.feedback_form(form)


@blp.route("/halls/<code>/qr-sheet")
@signed_in
def qr_sheet(code):
    return qr_sheet_response(rating_tokens.hall_windows(g.principal, code))


@blp.errorhandler(NotFound)
def not_found(error):
    return error_page(404, "没有找到该事项，或它不在您的权限范围内。")
