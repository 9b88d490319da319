"""Request checks that apply to every route: body size and type, write intent, security headers."""
from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from service.database import declare_write_intent, end_unit_of_work
from service.errors import BadRequest, ValidationFailed

from .errors import validation_problem

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def body_limit(config_key: str):
    """Give one view its own body limit (a config key), e.g. a tablet's batch sync; others keep MAX_BODY_BYTES."""

    def decorator(fn):
        fn._body_limit = config_key
        return fn

    return decorator


def _handler():
    """The MethodView method that will answer this request (None for a 404/405)."""
    view = current_app.view_functions.get(request.endpoint)
    return getattr(getattr(view, "view_class", None), request.method.lower(), None)


def _limit_for_request() -> int:
    key = getattr(_handler(), "_body_limit", None)
    return current_app.config[key if key else "MAX_CONTENT_LENGTH"]


def _reject_query_of_queryless_route() -> None:
    """A route without a query schema refuses every query parameter, as the schemas refuse unknown ones (webargs
    would not look at the query string of such a route at all)."""
    handler = _handler()
    if handler is None:
        return
    parameters = getattr(handler, "_apidoc", {}).get("arguments", {}).get("parameters", [])
    if not any(p.get("in") == "query" for p in parameters):
        errors, detail = validation_problem({name: ["Unknown field."] for name in request.args})
        raise ValidationFailed(errors, detail=detail)


def has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def _reject_nul():
    # PostgreSQL cannot store NUL in text, and no real client sends it: refuse it up front, on both databases.
    raise ValidationFailed({"body": ["文本中不能包含空字符（\\u0000）"]}, code="validation_error")


def check_body():
    if request.args:
        if any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True)):
            _reject_nul()
        _reject_query_of_queryless_route()
    if request.method not in WRITE_METHODS:
        return
    declare_write_intent(True)
    # Also bounds what werkzeug reads from a chunked body, which has no Content-Length to check here.
    request.max_content_length = _limit_for_request()
    length = request.content_length
    if length is not None and length > request.max_content_length:
        raise RequestEntityTooLarge()
    if not length and "chunked" not in request.headers.get("Transfer-Encoding", ""):
        return  # an empty body (e.g. an action without options) needs no content type
    if not request.is_json:
        raise BadRequest("请求体必须是 JSON，并设置 Content-Type: application/json", code="unsupported_content_type")
    body = request.get_json(silent=True)
    if body is None:
        raise BadRequest("请求体不是有效的 JSON（须为 UTF-8 编码）", code="malformed_json")
    if has_nul(body):
        _reject_nul()


def end_request(_exc=None):
    end_unit_of_work()


def add_security_headers(headers, *, private: bool) -> None:
    """Also used by the polling fast path (api.rectification.PollFastPath), which answers outside Flask."""
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if private:
        # Scoped or personal answers must not be kept by shared caches.
        headers.setdefault("Cache-Control", "private, no-store")


def security_headers(response):
    add_security_headers(response.headers, private="Authorization" in request.headers or "receipt" in request.args)
    return response


def init_hooks(app: Flask) -> None:
    app.before_request(check_body)
    app.teardown_request(end_request)
    app.after_request(security_headers)
