"""One error shape from one place: every 4xx/5xx leaves as application/problem+json with a Chinese detail."""
import re

from flask import Flask, current_app, json, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from service.errors import ServiceError

# Generic marshmallow/webargs messages in Chinese; messages written for a field are already Chinese.
_EXACT = {
    "Missing data for required field.": "此项为必填项",
    "Field may not be null.": "此项不能为 null",
    "Unknown field.": "不支持的字段",
    "Invalid input type.": "请求体必须是 JSON 对象",
    "Not a valid integer.": "必须是整数",
    "Not a valid string.": "必须是字符串",
    "Not a valid boolean.": "必须是 true 或 false",
    "Not a valid list.": "必须是数组",
    "Not a valid date.": "必须是 YYYY-MM-DD 格式的日期",
    "Not a valid datetime.": "必须是带时区的 ISO 8601 时间，例如 2026-11-25T09:30:00+08:00",
    "Not a valid aware datetime.": "时间必须带时区，例如 2026-11-25T09:30:00+08:00",
    "Not a valid UUID.": "必须是 UUID",
    "Not a valid mapping type.": "必须是 JSON 对象",
    "Not a valid number.": "必须是数字",
    "Number too large.": "数值过大",
    "Invalid value.": "取值无效",
    "Not a valid utf-8 string.": "必须是有效的 UTF-8 字符串",
}
_PATTERNS = [
    (re.compile(r"^Must be one of: (.*)\.$"), "取值必须是以下之一：{0}"),
    (re.compile(r"^Longer than maximum length (\d+)\.$"), "长度不能超过 {0} 个字符"),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"), "长度不能少于 {0} 个字符"),
    (re.compile(r"^Length must be between (\d+) and (\d+)\.$"), "长度必须在 {0} 到 {1} 之间"),
    (re.compile(r"^Must be greater than or equal to (\S+) and less than or equal to (\S+)\.$"), "必须在 {0} 到 {1} 之间"),
    (re.compile(r"^Must be greater than or equal to (\S+)\.$"), "不能小于 {0}"),
    (re.compile(r"^Must be less than or equal to (\S+)\.$"), "不能大于 {0}"),
    (re.compile(r'^"?(.*?)"? cannot be formatted as a (\w+)\.$'), "无法识别的取值：{0}"),
]

_DETAILS = {
    400: "请求格式不正确",
    401: "需要登录凭证",
    403: "无权执行此操作",
    404: "请求的资源不存在",
    405: "不支持此请求方法",
    409: "请求与当前状态冲突",
    412: "数据已被他人修改，请刷新后重试",
    413: "请求体过大",
    415: "不支持的内容类型，请使用 application/json",
    422: "提交的数据未通过校验",
    429: "请求过于频繁，请稍后再试",
    500: "服务器内部错误，请稍后重试",
    503: "服务暂时不可用，请稍后重试",
}
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 412: "version_mismatch", 413: "payload_too_large", 415: "unsupported_content_type",
          422: "validation_error", 429: "rate_limited", 500: "internal_error", 503: "unavailable"}


def translate(message: str) -> tuple[str, bool]:
    """(Chinese message, whether it was a generic one that needs the field name to make sense)."""
    if message in _EXACT:
        return _EXACT[message], True
    for pattern, template in _PATTERNS:
        match = pattern.match(message)
        if match:
            return template.format(*match.groups()), True
    return message, False


def _translate_tree(node, path: str, leaves: list):
    if isinstance(node, dict):
        return {str(k): _translate_tree(v, f"{path}.{k}" if path else str(k), leaves) for k, v in node.items()}
    if isinstance(node, list | tuple):
        out = []
        for item in node:
            if isinstance(item, str):
                text, generic = translate(item)
                leaves.append((path, text, generic))
                out.append(text)
            else:
                out.append(_translate_tree(item, path, leaves))
        return out
    text, generic = translate(str(node))
    leaves.append((path, text, generic))
    return [text]


def validation_problem(messages: dict):
    """marshmallow/webargs messages → (errors, detail); the location level (json, query) is dropped."""
    if len(messages) == 1 and next(iter(messages)) in ("json", "query", "form", "view_args", "headers"):
        messages = next(iter(messages.values()))
    if isinstance(messages, list):
        messages = {"body": messages}
    messages = {("body" if k == "_schema" else k): v for k, v in messages.items()}
    leaves: list = []
    errors = _translate_tree(messages, "", leaves)
    path, text, generic = leaves[0] if leaves else ("", _DETAILS[422], False)
    detail = f"{path}：{text}" if generic and path else text
    if len(leaves) > 1:
        detail += f"（共 {len(leaves)} 处错误）"
    return errors, detail


def problem(status: int, code: str, detail: str, *, errors=None, headers=None, **extra):
    body = {"type": "about:blank", "title": HTTP_STATUS_CODES.get(status, "Error"), "status": status,
            "code": code, "detail": detail}
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = current_app.response_class(json.dumps(body), status=status, mimetype="application/problem+json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def handle_service_error(exc: ServiceError):
    return problem(exc.status, exc.code, exc.detail, errors=exc.errors, headers=exc.headers, **exc.extra)


def handle_http_exception(exc: HTTPException):
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    headers = dict(data.get("headers") or {})
    if status == 405 and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    if status == 400 and messages:
        return problem(400, "malformed_json", "请求体不是有效的 JSON", headers=headers)
    if status == 422 and messages:
        errors, detail = validation_problem(messages)
        return problem(422, "validation_error", detail, errors=errors, headers=headers)
    detail = _DETAILS.get(status, HTTP_STATUS_CODES.get(status, "错误"))
    if status == 413:
        detail = f"请求体过大，上限为 {request.max_content_length // 1024} KB"
    return problem(status, _CODES.get(status, "error"), detail, headers=headers)


def register_errorhandlers(app: Flask) -> None:
    # Registered after flask-smorest's own HTTPException handler, which this replaces.
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(HTTPException, handle_http_exception)
