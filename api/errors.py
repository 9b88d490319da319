"""One error shape from one place: every 4xx/5xx leaves as application/problem+json with a Chinese detail."""
import re

from flask import Flask, current_app, json, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from service.errors import ServiceError

# Generic marshmallow/webargs messages in Chinese; messages written for a field are already Chinese.
_EXACT = {
    "Missing data for required field.": "此项为必填项",
    "Field may not be null.": "此项不能为空值",
    "Unknown field.": "不支持的字段",
    "Invalid input type.": "请求体必须是 JSON 对象",
    "Not a valid integer.": "必须是整数",
    "Not a valid string.": "必须是字符串",
    "Not a valid boolean.": "必须是布尔值（是或否）",
    "Not a valid list.": "必须是数组",
    "Not a valid date.": "必须是日期，例如 2026-11-25",
    "Not a valid datetime.": "必须是带时区的时间，例如 2026-11-25T09:30:00+08:00",
    "Not a valid aware datetime.": "时间必须带时区，例如 2026-11-25T09:30:00+08:00",
    "Not a valid UUID.": "必须是 36 位的唯一编号，例如 3f2b8c1e-5d4a-4b7e-9c61-0a1b2c3d4e5f",
    "Not a valid mapping type.": "必须是 JSON 对象",
    "Not a valid number.": "必须是数字",
    "Number too large.": "数值过大",
    "Invalid value.": "取值无效",
    "Not a valid utf-8 string.": "必须是有效的 UTF-8 字符串",
}
_PATTERNS = [
    # The accepted codes are English (miniprogram, hall ...): the OpenAPI document lists them, a citizen never reads them.
    (re.compile(r"^Must be one of: (.*)\.$"), "不是可接受的取值"),
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


UNKNOWN = _EXACT["Unknown field."]
# The Chinese name of each field a request can carry, so that `detail` (shown to a citizen) names no field code;
# `errors` stays keyed by the field names a client program reads.
FIELD_LABELS = {
    "hall": "服务大厅", "item": "服务事项", "window": "窗口", "staff_no": "工号", "score": "评分", "channel": "评价渠道",
    "tags": "评价标签", "comment": "评价内容", "anonymous": "是否匿名", "name": "姓名", "phone": "手机号码",
    "rating_token": "评价码", "case_no": "办件编号", "completed_at": "办结时间", "id": "编号", "mode": "体验方式",
    "observer": "体验人", "title": "职务", "citizen": "群众", "started_at": "开始时间", "ended_at": "结束时间",
    "summary": "体验小结", "status": "状态", "findings": "发现的问题", "step": "环节", "category": "问题类别",
    "description": "问题描述", "severity": "严重程度", "suggestion": "改进建议", "needs_rectification": "是否需要整改",
    "wait_minutes": "等候时长", "handle_minutes": "办理时长", "walkthroughs": "走流程记录", "action": "操作",
    "note": "说明", "resolution": "处理方式", "callback_note": "回访记录", "measures": "整改措施", "result": "整改结果",
    "answered": "是否已反馈", "unreachable": "无法联系的原因", "receipt": "回执", "cursor": "分页游标",
    "limit": "每页条数", "from": "开始日期", "to": "结束日期", "group_by": "分组方式", "period": "月份", "month": "月份",
    "by": "排名对象", "format": "格式", "q": "关键词", "code": "编码", "label": "名称", "applies_to": "适用范围",
    "level": "层级", "parent_code": "上级大厅", "address": "地址", "department": "部门", "job": "任务",
    "default_rating_enabled": "默认评价", "source": "来源", "list": "整改清单", "overdue": "是否逾期",
    "updated_since": "更新时间起点", "bad": "差评", "role": "角色", "active": "是否启用", "url": "地址",
    "events": "事件类型", "record": "记录",
}


def translate(message: str) -> tuple[str, bool]:
    """(Chinese message, whether it was a generic one that needs the field name to make sense)."""
    if message in _EXACT:
        return _EXACT[message], True
    for pattern, template in _PATTERNS:
        match = pattern.match(message)
        if match:
            return template.format(*match.groups()), True
    return message, False


def _translate_tree(node, path: tuple, leaves: list):
    if isinstance(node, dict):
        return {str(k): _translate_tree(v, (*path, str(k)), leaves) for k, v in node.items()}
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


def _label(path: tuple) -> str | None:
    """The Chinese name of the innermost named field of an error's path (list indexes skipped)."""
    for key in reversed(path):
        if not key.isdigit():
            return FIELD_LABELS.get(key)
    return None


def _detail_of(path: tuple, text: str, generic: bool, location: str | None) -> str:
    if not generic:
        return text  # written for its field, in Chinese already
    if text == UNKNOWN:
        return "请求中包含不支持的查询参数" if location == "query" else "请求中包含不支持的字段"
    label = _label(path)
    return f"{label}：{text}" if label else f"{_DETAILS[422]}：{text}"


def validation_problem(messages: dict, location: str | None = None):
    """marshmallow/webargs messages → (errors, detail); the location level (json, query) is dropped. `detail` is
    for a person: it names the field in Chinese, never by its code; `errors` keeps the field names."""
    if len(messages) == 1 and next(iter(messages)) in ("json", "query", "form", "view_args", "headers"):
        location = next(iter(messages))
        messages = messages[location]
    if isinstance(messages, list):
        messages = {"body": messages}
    messages = {("body" if k == "_schema" else k): v for k, v in messages.items()}
    leaves: list = []
    errors = _translate_tree(messages, (), leaves)
    detail = _detail_of(*leaves[0], location) if leaves else _DETAILS[422]
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
        detail = f"请求体过大，上限为 {request.max_content_length // 1024} 千字节"
    return problem(status, _CODES.get(status, "error"), detail, headers=headers)


def register_errorhandlers(app: Flask) -> None:
    # Registered after flask-smorest's own HTTPException handler, which this replaces.
    app.register_error_handler(ServiceError, handle_service_error)
    app.register_error_handler(HTTPException, handle_http_exception)
