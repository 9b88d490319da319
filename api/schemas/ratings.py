"""Case and rating schemas (好差评)."""
from marshmallow import ValidationError, fields, validate

from service.security import is_mobile
from service.vocab import CHANNELS, is_bad, level_of

from .common import BaseSchema, Boolean, Date, LocalDateTime, MaskedText, PageQuery, QueryBoolean, vocabulary

_score_msg = "评分必须是 1 到 5 之间的整数"


def _mobile(phone: str) -> None:
    if not is_mobile(phone):
        raise ValidationError("手机号码格式不正确，应为 11 位中国大陆手机号")


# Level, label and 差评 flag are the score's, worked out where the answer is dumped (from service.vocab), so no
# service function restates them. Each reads the `score` attribute (dump only: several fields read it) and keeps
# its type in the OpenAPI document.
class OfScore:
    def __init__(self, **kwargs):
        super().__init__(attribute="score", dump_only=True, **kwargs)


class Level(OfScore, fields.String):
    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else level_of(value)[0]


class LevelLabel(OfScore, fields.String):
    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else level_of(value)[1]


class IsBad(OfScore, fields.Boolean):
    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else is_bad(value)


class TagCodes(fields.List):
    """A rating's tags (RatingTag rows) as their codes, in code order."""

    def __init__(self, **kwargs):
        super().__init__(fields.String(), **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else sorted(tag.tag_code for tag in value)


class CaseIn(BaseSchema):
    case_no = fields.String(required=True, validate=validate.Length(1, 64, error="办件编号长度应在 1 到 64 位之间"))
    hall = fields.String(required=True, validate=validate.Length(1, 32))
    item = fields.String(required=True, validate=validate.Length(1, 64))
    window = fields.String(allow_none=True, validate=validate.Length(1, 32))
    staff_no = fields.String(allow_none=True, validate=validate.Length(1, 32))
    completed_at = LocalDateTime(allow_none=True, metadata={"description": "办结时间，缺省为登记时刻"})


class CaseOut(BaseSchema):
    case_no = fields.String()
    rating_token = fields.String()
    rate_before = LocalDateTime()


class RatingIn(BaseSchema):
    rating_token = fields.String(validate=validate.Length(1, 128))
    hall = fields.String(validate=validate.Length(1, 32))
    item = fields.String(allow_none=True, validate=validate.Length(1, 64))
    window = fields.String(allow_none=True, validate=validate.Length(1, 32))
    staff_no = fields.String(allow_none=True, validate=validate.Length(1, 32))
    score = fields.Integer(required=True, strict=True, validate=validate.Range(1, 5, error=_score_msg),
                           error_messages={"invalid": _score_msg, "required": "请给出评分（1 到 5）",
                                           "null": _score_msg})
    channel = fields.String(required=True, validate=vocabulary("评价渠道", CHANNELS),
                            error_messages={"required": "请注明评价渠道"})
    tags = fields.List(fields.String(validate=validate.Length(1, 32)),
                       validate=validate.Length(max=10, error="最多选择 10 个标签"))
    comment = fields.String(allow_none=True, validate=validate.Length(max=500, error="评价内容不能超过 500 个字"))
    anonymous = Boolean(load_default=True)
    name = fields.String(allow_none=True, validate=validate.Length(1, 50, error="姓名长度应在 1 到 50 个字之间"))
    phone = fields.String(allow_none=True, validate=_mobile,
                          metadata={"description": "11 位中国大陆手机号（仅半角数字）", "pattern": "^1[3-9][0-9]{9}$"})


class RatingCreated(BaseSchema):
    id = fields.Integer()
    receipt = fields.String()
    score = fields.Integer()
    level = Level()
    level_label = LevelLabel()
    is_bad = IsBad()
    created_at = LocalDateTime()


class RectificationBrief(BaseSchema):
    status = fields.String()
    status_label = fields.String()
    due_date = fields.Date(allow_none=True)
    measures = MaskedText(allow_none=True)
    result = MaskedText(allow_none=True)
    answered_at = LocalDateTime(allow_none=True)
    rater_satisfaction = fields.Integer(allow_none=True, metadata={
        "description": "评价人对最近一次整改反馈的评价（1–5），尚未评价时为 null；回头看后再次反馈时重新为 null"})
    rater_answered_at = LocalDateTime(allow_none=True, metadata={"description": "评价人作出上述评价的时间"})


class RatingOut(BaseSchema):
    """Dumps a rating row (models.Rating) or a service.ratings.RatingRead."""
    id = fields.Integer()
    hall = fields.String(attribute="hall_code")
    item = fields.String(attribute="item_code", allow_none=True)
    window = fields.String(attribute="window_code", allow_none=True)
    staff_no = fields.String(allow_none=True)
    score = fields.Integer()
    level = Level()
    level_label = LevelLabel()
    is_bad = IsBad()
    channel = fields.String()
    tags = TagCodes()
    comment = MaskedText(allow_none=True)
    anonymous = fields.Boolean()
    name = fields.String(attribute="name_masked", allow_none=True,
                         metadata={"description": "已脱敏：保留首字，其余为 *（单字姓名为 *）"})
    phone = fields.String(attribute="phone_masked", allow_none=True, metadata={"description": "已脱敏，如 138****5678"})
    is_default = fields.Boolean()
    effective = fields.Boolean()
    created_at = LocalDateTime()


class FollowUpOut(BaseSchema):
    comment = MaskedText()
    tags = fields.List(fields.String())
    created_at = LocalDateTime()


class RatingDetail(RatingOut):
    rectification = fields.Nested(RectificationBrief, allow_none=True)
    follow_up = fields.Nested(FollowUpOut, allow_none=True, metadata={"description": "追评，没有时为 null"})


class FollowUpIn(BaseSchema):
    comment = fields.String(required=True, validate=validate.Length(1, 500, error="追评内容应为 1 到 500 个字"),
                            error_messages={"required": "请填写追评内容", "null": "请填写追评内容"})
    tags = fields.List(fields.String(validate=validate.Length(1, 32)), load_default=list,
                       validate=validate.Length(max=10, error="最多选择 10 个标签"))


class FollowUpCreated(BaseSchema):
    id = fields.Integer()
    created_at = LocalDateTime()


class RatingList(BaseSchema):
    items = fields.List(fields.Nested(RatingOut))
    next_cursor = fields.String(allow_none=True)


class ReceiptQuery(BaseSchema):
    receipt = fields.String(validate=validate.Length(1, 128),
                            metadata={"description": "评价时返回的回执（评价人查看自己的评价时必填）"})


class RatingListQuery(PageQuery):
    hall = fields.String()
    item = fields.String()
    window = fields.String()
    staff_no = fields.String()
    score = fields.Integer(validate=validate.Range(1, 5, error=_score_msg))
    bad = QueryBoolean()
    channel = fields.String(validate=vocabulary("评价渠道", CHANNELS))
    from_ = Date(data_key="from")
    to = Date()
