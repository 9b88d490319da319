"""What the OpenAPI document says beyond the schemas flask-smorest builds from the views, by operationId: the
service's own refusal codes, the headers it reads, request examples, response enums, and the rules the schema cannot
state (api/openapi.py puts them into the document)."""
from service.rectification import RESOLUTIONS, STATUSES
from service.vocab import HALL_LEVELS, LEVELS, SEVERITIES, WALKTHROUGH_MODES, WALKTHROUGH_STATUSES
from service.walkthrough_sync import CREATED, REJECTED, UNCHANGED, UPDATED

ROLE_LABELS = {"public": "公开接口，无需令牌", "staff": "需要工作人员（staff）及以上角色的令牌",
               "supervisor": "需要督办人员（supervisor）及以上角色的令牌", "admin": "需要管理员（admin）令牌"}
STATUS_TEXT = {400: "请求格式不正确", 401: "缺少或无效的访问令牌", 403: "当前角色无权执行此操作",
               404: "资源不存在，或不在调用者的权限范围内", 409: "与当前状态冲突", 412: "If-Match 版本不一致",
               413: "请求体过大", 422: "数据未通过校验", 429: "请求过于频繁（见 Retry-After）"}

# What a single service function refuses beyond the generic rules, by operationId: {status: [codes]}.
SERVICE_CODES = {
    "postCases": {409: ["case_conflict"]},
    "postRatings": {409: ["already_rated", "rating_window_closed", "idempotency_key_reused"],
                    422: ["invalid_rating_token"], 429: ["rate_limited"]},
    "getRatingById": {429: ["rate_limited"]},
    "postAnswerSatisfaction": {409: ["no_rectification", "not_answered", "already_answered"],
                               429: ["rate_limited"]},
    "postWalkthroughs": {409: ["walkthrough_submitted"]},
    "postSync": {422: ["batch_too_large"]},
    "postItemActions": {403: ["forbidden"], 409: ["action_not_allowed", "appeal_window_closed"], 412: ["version_mismatch"],
                        422: ["feedback_required"]},
    "postHalls": {409: ["duplicate"]},
    "postWindows": {409: ["duplicate"]},
    "postItems": {409: ["duplicate"]},
    "postTags": {409: ["duplicate"]},
    "postDeactivate": {409: ["cannot_deactivate_self", "actor_inactive"]},
    "postRotate": {409: ["account_inactive"]},
    "postDeliveryRetry": {409: ["not_retryable"]},
    "postFollowUp": {409: ["already_followed_up", "rating_window_closed"]},
    "getItemContact": {404: ["no_contact"]},
}
# Header parameters the service reads, by operationId (those a view already declares keep their own text).
HEADERS = {
    "postRatings": [
        # Spaces only inside the key: HTTP drops them at the ends of a header value.
        {"in": "header", "name": "Idempotency-Key",
         "schema": {"type": "string", "pattern": r"^[\x21-\x7e]([\x20-\x7e]{0,62}[\x21-\x7e])?$"},
         "description": "幂等键（1–64 个可打印 ASCII 字符）：同一键、同一内容的重试返回第一次的结果"},
        {"in": "header", "name": "X-Client-Id", "schema": {"type": "string", "maxLength": 128},
         "description": "客户端标识（小程序、评价器）：与来源地址一起决定限流和幂等键的作用域"},
    ],
    "postItemActions": [
        {"in": "header", "name": "If-Match",
         "schema": {"type": "string", "pattern": r'^([0-9]{1,15}|"[0-9]{1,15}"|W/"[0-9]{1,15}")$'},
         "description": "事项的 version（3、\"3\" 或 W/\"3\"）；与当前版本不一致时返回 412，格式不对返回 400"},
    ],
}


# The closed vocabularies of the answers, so a generated client gets enums: by property, or by (schema, property)
# where the same name means different things (an item's status is not a walkthrough's).
ENUMS = {
    "severity": list(SEVERITIES),
    "mode": list(WALKTHROUGH_MODES),
    "outcome": [CREATED, UPDATED, UNCHANGED, REJECTED],
    "resolution": list(RESOLUTIONS),
    "state_family": ["open", "closed"],
}
SCHEMA_ENUMS = {
    "level": {("RatingOut", "RatingDetail", "RatingCreated"): [name for name, _ in LEVELS.values()],
              ("HallOut", "HallDetail", "HallIn", "HallPatch"): list(HALL_LEVELS)},
    "status": {("RectificationOut", "RectificationDetail", "RectificationBrief"): list(STATUSES),
               ("WalkthroughSummary", "WalkthroughOut"): list(WALKTHROUGH_STATUSES)},
}


# What a client author copies first: one valid body for each main request.
EXAMPLES = {
    "postRatings": {"rating_token": "3q2w9e8r7t6y5u4i3o2p1a0s9d8f7g6h", "score": 1, "channel": "miniprogram",
                    "tags": ["QUEUE"], "comment": "排队太久", "anonymous": False, "name": "张三", "phone": "13812345678"},
    "postCases": {"case_no": "BJ20261201001", "hall": "HZ-XC", "item": "SB-001", "window": "04", "staff_no": "A012",
                  "completed_at": "2026-12-01T10:30:00+08:00"},
    "postItemActions": {"action": "verify", "resolution": "immediate", "callback_note": "已电话回访，群众反映属实"},
    "postWalkthroughs": {"id": "5b0b5a54-0c2e-4a3e-9d1e-6f6c0a6f4e21", "hall": "HZ-XC", "item": "SB-001",
                         "mode": "accompany", "observer": {"name": "李四", "title": "副局长"},
                         "started_at": "2026-12-01T09:00:00+08:00", "ended_at": "2026-12-01T10:10:00+08:00",
                         "status": "submitted", "findings": [
                             {"id": "0d9a7e1c-2b4f-4c8a-b1e2-3f4a5b6c7d8e", "step": "wait", "category": "time_limit",
                              "description": "取号后等候 45 分钟", "severity": "medium", "needs_rectification": True,
                              "wait_minutes": 45}]},
}


# Refusals a request valid by the document can still get (422), because they depend on stored data (an unknown hall,
# an item not offered there, a rating token that names no case), on the clock (a time in the future) or on two fields
# together (from after to, a 差评 with a name but no phone) — none of which JSON Schema can state. Each operation's 422
# response lists them (x-rules-beyond-schema: field → rule) and is flagged x-refused-beyond-schema, which is how a
# schemathesis run from the repository root knows to accept these 422s (schemathesis.toml), and then only on these
# fields (tests/contract_checks.py).
_FROM_AFTER_TO = "开始日期晚于结束日期"
_UNKNOWN_HALL = "大厅编码不存在"
_TAGS = "评价标签不存在，或不适用于所给的评分（好评标签用于差评，差评标签用于满意、非常满意）"
_ACTION_FIELD = "该操作必填而未填写，或该操作不使用此项（各操作所需字段见说明）"
BEYOND_SCHEMA = {
    "getRatings": {"from": _FROM_AFTER_TO},
    "getStats": {"from": _FROM_AFTER_TO, "group_by": "统计走流程（source=walkthrough）时按窗口或工作人员分组"},
    "getTagStats": {"from": _FROM_AFTER_TO},
    "getWalkthroughs": {"from": _FROM_AFTER_TO},
    "getAccounts": {"hall": _UNKNOWN_HALL},
    "postAccounts": {"hall": "工作人员和监管账号未指定大厅，或大厅编码不存在"},
    "postHalls": {"parent_code": "上级大厅不存在，或其层级不高于本大厅"},
    "patchHallByCode": {"parent_code": "上级大厅不存在、是本大厅自己，或其层级不高于本大厅"},
    "postCatalogItems": {"halls": _UNKNOWN_HALL},
    "patchItemByCode": {"halls": _UNKNOWN_HALL},
    "postCases": {"item": "该大厅未提供此事项", "window": "该大厅没有此窗口", "completed_at": "办结时间晚于当前时间"},
    "postRatings": {"rating_token": "评价码不对应任何办件（code：invalid_rating_token）",
                    "hall": "既无评价码也无大厅编码，大厅编码不存在，或与评价码的办件不一致",
                    "item": "该大厅未提供此事项，或与评价码的办件不一致",
                    "window": "该大厅没有此窗口，或与评价码的办件不一致",
                    "staff_no": "与评价码的办件不一致", "tags": _TAGS,
                    "phone": "实名（anonymous 为 false）差评未留手机号"},
    "getRatingById": {"receipt": "既未提供回执，也未提供工作人员令牌"},
    "postFollowUp": {"tags": _TAGS},
    "postWalkthroughs": {"item": "该大厅未提供此事项", "started_at": "开始时间晚于当前时间",
                         "ended_at": "结束时间晚于当前时间，或早于开始时间",
                         "findings": "问题编号在同一记录中重复，或已属于另一条走流程记录"},
    "postSubscriptions": {"events": "省平台格式（provincial）不支持的事件类型"},
    "patchSubscriptionById": {"events": "订阅为省平台格式时，其不支持的事件类型"},
    "postItemActions": {field: _ACTION_FIELD for field in ("note", "resolution", "callback_note", "measures", "result",
                                                           "answered", "unreachable")},
}
