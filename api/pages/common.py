"""What every HTML page shares: the blueprint helpers, the large-type preference, CSP, HTML error pages."""
import hashlib
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from service.database import declare_write_intent
from service.errors import ServiceError, ValidationFailed
from service.timeutil import SHANGHAI

from ..hooks import WRITE_METHODS

STATIC = Path(__file__).resolve().parent.parent / "static"
# Pages load only the app's own files: no inline script, no inline style, no framing, forms post to this origin.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# The printable report and 体验反馈表 templates carry their own <style> and no script.
LARGE_COOKIE = "hf_large"
ONE_YEAR = 365 * 24 * 3600
ERROR_TITLES = {400: "请求有误", 403: "无法完成操作", 404: "页面不存在", 405: "请求方式不正确", 409: "无法完成操作",
                412: "事项已被修改", 413: "提交的内容过多", 422: "填写有误", 429: "操作太频繁"}


def _asset_version() -> str:
    """Changes with the static files, so browsers may keep them for a year and still never run a stale one."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


ASSET_VERSION = _asset_version()


def page_blueprint(name: str, import_name: str, *, writes_ahead: bool = False, **kwargs) -> Blueprint:
    """A blueprint of HTML pages. Its forms post application/x-www-form-urlencoded, so api.hooks' JSON body check
    leaves it to check_form (`takes_forms`). `writes_ahead`: its POSTs declare their write up front (on SQLite the
    Session then begins with BEGIN IMMEDIATE, as an API write does); the citizen's posts do not, because the intake
    writes on its own connection (plain statements), which a Session holding the write lock would block."""
    blp = Blueprint(name, import_name, template_folder="../templates", **kwargs)
    blp.takes_forms = True
    blp.before_request(partial(check_form, writes_ahead))
    blp.after_request(page_headers)
    blp.register_error_handler(ServiceError, service_error_page)
    blp.register_error_handler(HTTPException, http_error_page)
    blp.app_template_filter("shanghai")(shanghai)
    blp.app_template_filter("messages")(messages)
    return blp


def messages(node) -> str:
    """Field errors as one line, however nested (a list's errors come keyed by index)."""
    if node is None:
        return ""
    if isinstance(node, dict):
        return "；".join(filter(None, (messages(v) for v in node.values())))
    if isinstance(node, list | tuple):
        return "；".join(filter(None, (messages(v) for v in node)))
    return str(node)


def switch_url() -> str:
    """This page again with the large-type preference flipped (a GET: the switch is a plain link)."""
    args = request.args.to_dict()
    args["large"] = "0" if large_type() else "1"
    return f"{request.path}?{urlencode(args)}"


def shanghai(moment, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if moment is None:
        return "—"
    if isinstance(moment, str):
        return moment[:16].replace("T", " ")
    return moment.astimezone(SHANGHAI).strftime(fmt) if hasattr(moment, "astimezone") else str(moment)


def page_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    if response.mimetype == "text/html":
        # Pages show personal or per-session content (receipts, the console): never kept by a shared cache.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def large_type() -> bool:
    flag = request.args.get("large")
    if flag in ("0", "1"):
        return flag == "1"
    return request.cookies.get(LARGE_COOKIE) == "1"


def render(template: str, status: int = 200, **context):
    """A page with the large-type preference applied; `?large=1|0` (the no-script switch) also keeps it."""
    large = large_type()
    response = make_response(render_template(template, large=large, asset_version=ASSET_VERSION,
                                             path_only=request.path, switch_url=switch_url(),
                                             **context), status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    if request.args.get("large") in ("0", "1"):
        response.set_cookie(LARGE_COOKIE, "1" if large else "0", max_age=ONE_YEAR, samesite="Lax",
                            secure=request.is_secure)
    return response


def error_page(status: int, message: str, title: str | None = None):
    return render("pages/error.html", status, title=title or ERROR_TITLES.get(status, "出错了"), message=message)


def service_error_page(error: ServiceError):
    response = error_page(error.status, error.detail)
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


def http_error_page(error: HTTPException):
    status = error.code or 500
    messages = {404: "您要找的页面不存在，请核对链接或二维码。", 405: "请从页面上的按钮提交。",
                413: "提交的内容过多，请删减后再试。"}
    return error_page(status, messages.get(status, "请求未能完成，请稍后再试。"))


def check_form(writes_ahead: bool) -> None:
    if writes_ahead and request.method in WRITE_METHODS:
        declare_write_intent(True)
    if form_has_nul():
        raise ValidationFailed({"body": ["文本中不能包含空字符"]})


def form_has_nul() -> bool:
    return any("\x00" in k or "\x00" in v for k, v in request.form.items(multi=True)) or \
        any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True))
