"""Rectification schemas (一体验一反馈一清单): items, events, actions, lists, the rater's answer, job runs."""
from marshmallow import fields, validate

from service.rectification import ACTIONS, LIST_STATUSES, RESOLUTIONS, SOURCES, STATUSES

from .common import LIMIT_MESSAGE, BaseSchema, Boolean, LocalDateTime, MaskedText, PageQuery, QueryBoolean, vocabulary
from .ratings import RectificationBrief

_text = validate.Length(1, 2000, error="长度应在 1 到 2000 个字之间")
_score_msg = "评分必须是 1 到 5 之间的整数"


class RectificationOut(BaseSchema):
    """Dumps service.rectification.ItemRow (an item, its list's code, its computed state)."""

    id = fields.Integer()
    list_code = fields.String()
    source = fields.String(metadata={"description": "rating | walkthrough"})
    source_id = fields.String(metadata={"description": "评价编号或走流程问题（finding）的 UUID"})
    hall = fields.String(attribute="hall_code")
    item = fields.String(attribute="item_code", allow_none=True)
    window = fields.String(attribute="window_code", allow_none=True)
    problem = MaskedText()
    category = fields.String(allow_none=True, metadata={"description": "好差评：首个评价标签编码；走流程：问题类别编码"})
    category_label = fields.String(allow_none=True, metadata={"description": "类别名称，如 材料过多、效率"})
    status = fields.String(metadata={"description": "、".join(f"{k} {v}" for k, v in STATUSES.items())})
    state_family = fields.String(metadata={"description": "open | closed"})
    status_label = fields.String()
    verify_due = fields.Date(allow_none=True, metadata={"description": "核实期限（创建时确定）"})
    verified_on_time = fields.Boolean(allow_none=True, metadata={"description": "是否按期核实；核实前为 null"})
    due_date = fields.Date(metadata={"description": "整改期限：自核实期限起算，核实迟了也不顺延"})
    due_provisional = fields.Boolean(metadata={"description": "该年度尚未公布节假日安排，按周一至周五计算"})
    overdue = fields.Boolean()
    submitted_at = LocalDateTime(allow_none=True, metadata={"description": "提交验收的时间（整改计时止于此）"})
    on_time = fields.Boolean(allow_none=True, metadata={
        "description": "按期整改：提交时是否在期限内；未提交而已超期为 false；未提交且未到期为 null"})
    accept_wait_days = fields.Integer(allow_none=True, metadata={"description": "等待验收的工作日数（验收时记录）"})
    resolution = fields.String(allow_none=True)
    measures = MaskedText(allow_none=True)
    result = MaskedText(allow_none=True)
    callback_at = LocalDateTime(allow_none=True)
    answered_at = LocalDateTime(allow_none=True)
    unreachable = MaskedText(allow_none=True, metadata={"description": "未能反馈评价人的原因"})
    rater_satisfaction = fields.Integer(allow_none=True)
    version = fields.Integer()
    updated_at = LocalDateTime()


class EventOut(BaseSchema):
    at = LocalDateTime()
    actor = fields.String()
    action = fields.String()
    from_ = fields.String(data_key="from", attribute="from_status", allow_none=True)
    to = fields.String(attribute="to_status", allow_none=True)
    note = MaskedText(allow_none=True)


class RectificationDetail(RectificationOut):
    events = fields.List(fields.Nested(EventOut))


class RectificationPage(BaseSchema):
    items = fields.List(fields.Nested(RectificationOut))
    next_cursor = fields.String(allow_none=True)


class RectificationQuery(PageQuery):
    hall = fields.String()
    list_ = fields.String(data_key="list", validate=validate.Length(1, 64), metadata={"description": "清单编号"})
    status = fields.String(validate=vocabulary("事项状态", STATUSES))
    overdue = QueryBoolean()
    source = fields.String(validate=vocabulary("来源", SOURCES))
    updated_since = LocalDateTime(metadata={"description": "只返回此时刻（含）之后有变化的事项"})


class ActionIn(BaseSchema):
    action = fields.String(required=True, validate=vocabulary(
        "操作", {code: a.label for code, a in ACTIONS.items()}),
        error_messages={"required": "请指明要执行的操作"})
    note = fields.String(allow_none=True, validate=_text)
    resolution = fields.String(allow_none=True, validate=vocabulary("处理方式", RESOLUTIONS))
    callback_note = fields.String(allow_none=True, validate=_text)
    measures = fields.String(allow_none=True, validate=_text)
    result = fields.String(allow_none=True, validate=_text)
    answered = Boolean(allow_none=True, metadata={"description": "好差评事项：整改结果已反馈评价人"})
    unreachable = fields.String(allow_none=True, validate=_text, metadata={
        "description": "好差评事项：无法反馈评价人的原因（未留联系方式，或多次回访未能联系上）；与 answered 二选一"})


class ContactOut(BaseSchema):
    """Dumps service.rectification_contact.Contact: in clear, for the callback only."""

    name = fields.String(allow_none=True)
    phone = fields.String()


class RectificationListOut(BaseSchema):
    """Dumps service.rectification.ListRow (a list and its item counts)."""

    code = fields.String()
    source = fields.String()
    hall = fields.String(attribute="hall_code")
    period = fields.String(allow_none=True, metadata={"description": "好差评清单所属 ISO 周，如 2026-W48"})
    walkthrough_id = fields.String(allow_none=True)
    status = fields.String(metadata={"description": " | ".join(LIST_STATUSES)})
    status_label = fields.String()
    items_total = fields.Integer()
    items_closed = fields.Integer()
    created_at = LocalDateTime()
    closed_at = LocalDateTime(allow_none=True)


class RectificationListDetail(RectificationListOut):
    items = fields.List(fields.Nested(RectificationOut))


class RectificationListPage(BaseSchema):
    items = fields.List(fields.Nested(RectificationListOut))
    next_cursor = fields.String(allow_none=True)


class RectificationListQuery(PageQuery):
    hall = fields.String()
    source = fields.String(validate=vocabulary("来源", SOURCES))
    status = fields.String(validate=vocabulary("清单状态", LIST_STATUSES))


class AnswerIn(BaseSchema):
    score = fields.Integer(required=True, strict=True, validate=validate.Range(1, 5, error=_score_msg),
                           error_messages={"invalid": _score_msg, "required": "请给出评分（1 到 5）", "null": _score_msg})


class AnswerOut(BaseSchema):
    rating_id = fields.Integer()
    score = fields.Integer()
    rectification = fields.Nested(RectificationBrief)


class JobRunOut(BaseSchema):
    id = fields.Integer()
    job = fields.String()
    holder = fields.String(allow_none=True)
    started_at = LocalDateTime()
    finished_at = LocalDateTime(allow_none=True)
    status = fields.String(metadata={"description": "running | ok | failed | interrupted（调度进程中断）| fenced（租约已被接管，工作已回滚）"})
    counts = fields.Dict(allow_none=True)
    error = fields.String(allow_none=True)


class JobRunList(BaseSchema):
    items = fields.List(fields.Nested(JobRunOut))


class JobRunQuery(BaseSchema):
    job = fields.String(validate=validate.Length(1, 64))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200, error=LIMIT_MESSAGE))
