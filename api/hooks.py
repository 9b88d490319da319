"""Request checks that apply to every route: body size, encoding, nesting and type, write intent, security headers."""
import json
import re

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from service.auth import authenticate
from service.database import declare_write_intent, end_unit_of_work
from service.errors import BadRequest, ValidationFailed
from service.inputs import text_problem, unstorable_text

from .access import bearer_token
from .errors import validation_problem

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def records_checked_alone(fn):
    """A batch route whose service stores or rejects each record on its own, unstorable text included (POST /sync):
    the body check must not refuse the whole batch for one record's text."""
    fn._records_alone = True
    return fn


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
        errors, detail = validation_problem({name: ["Unknown field."] for name in request.args}, "query")
        raise ValidationFailed(errors, detail=detail)


MAX_DEPTH = 32  # arrays/objects inside each other; the deepest real body (a sync batch) has 4
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")



def _refuse_text(path: tuple, message: str):
    """422 keyed like marshmallow's errors: {"comment": [...]}, {"findings": {"0": {"description": [...]}}}."""
    errors: dict | list = [message]
    for key in reversed(path or ("body",)):
        errors = {key: errors}
    raise ValidationFailed(errors, detail=message, code="validation_error")


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays/objects nest deeper than `limit`, found without parsing: json.loads recurses once per level,
    so '[' * 60000 would end in a RecursionError (a 500) before any schema saw it."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for bracket in _NOT_BRACKET.sub("", _STRING.sub('""', text)):
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_body(raw: bytes, *, check_text: bool = True):
    """The JSON body, decoded strictly as UTF-8 (json.loads would guess UTF-16/32 from bytes), bounded in nesting,
    without NaN/Infinity, and (with check_text) without NUL or lone surrogates in any string."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("请求体不是有效的 JSON（须为 UTF-8 编码）", code="malformed_json") from None
    if too_deep(text):
        raise BadRequest(f"请求体 JSON 嵌套过深（最多 {MAX_DEPTH} 层）", code="malformed_json")
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise BadRequest("请求体不是有效的 JSON（须为 UTF-8 编码）", code="malformed_json") from None
    # Both can only come as JSON escapes (the text is strict UTF-8): most bodies skip the walk.
    if check_text and (_SURROGATE_ESCAPE.search(text) or "\\u0000" in text):
        found = unstorable_text(body)
        if found:
            _refuse_text(*found)
    return body


def _takes_forms() -> bool:
    """HTML page blueprints (api/pages) post forms and check them themselves."""
    return getattr(current_app.blueprints.get(request.blueprint or ""), "takes_forms", False)


def check_body():
    if _takes_forms():
        return
    if request.args:
        for key, value in request.args.items(multi=True):
            if "\x00" in key or "\x00" in value:
                # PostgreSQL cannot store NUL in text, and no real client sends it: refuse it up front, on both.
                _refuse_text(() if "\x00" in key else (key,), text_problem("\x00"))
        _reject_query_of_queryless_route()
    if request.method not in WRITE_METHODS or request.routing_exception is not None:
        return  # an unknown route or method is answered 404/405 whatever its body
    declare_write_intent(True)
    limit = request.max_content_length = _limit_for_request()
    length = request.content_length
    if length is not None and length > limit:
        raise RequestEntityTooLarge()
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not length and not chunked:
        if request.method == "PATCH":
            _refuse_empty_patch()
        return  # an empty body (e.g. an action without options) needs no content type
    if not request.is_json:
        raise BadRequest("请求体必须是 JSON，并设置 Content-Type: application/json", code="unsupported_content_type")
    # A chunked body has no Content-Length to check: werkzeug stops reading at max_content_length, so one byte
    # more than the limit tells an oversize body (413) from one of exactly the limit.
    request.max_content_length = limit + 1
    raw = request.get_data(cache=True)
    request.max_content_length = limit
    if len(raw) > limit:
        raise RequestEntityTooLarge()
    # A batch whose records are stored or rejected one by one (records_checked_alone) checks their text itself.
    body = parse_body(raw, check_text=not getattr(_handler(), "_records_alone", False))
    # The one parse of this body: request.get_json() and the schemas' parser (api.blueprint) answer it from here.
    request._cached_json = (body, body)
    if body == {} and request.method == "PATCH":
        _refuse_empty_patch()


def _refuse_empty_patch():
    """A PATCH names what it changes; one without a field would answer 200 having changed nothing. This is a rule
    about the body, so the caller's token and role are checked first, with the view's own rule (@requires): an
    anonymous caller gets the 401 it would get with a body."""
    access = getattr(_handler(), "_access", "public")
    if access != "public":
        authenticate(bearer_token()).require(access)
    raise ValidationFailed({"body": ["请求体不能为空，请至少提供一个要修改的字段"]}, code="validation_error")


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
