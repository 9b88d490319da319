"""Walkthrough schemas (我陪群众走流程): tablet records and their findings, batch sync, the 体验反馈表."""
import re

from marshmallow import ValidationError, fields, validate

from service.vocab import (
    FINDING_CATEGORIES,
    FORMATS,
    SEVERITIES,
    STEPS,
    WALKTHROUGH_MODES,
    WALKTHROUGH_STATUSES,
)
from service.walkthrough_sync import Invalid

from ..errors import validation_problem
from .common import NOT_BLANK, BaseSchema, Boolean, Date, LocalDateTime, MaskedText, PageQuery, vocabulary

MAX_FINDINGS = 100
MAX_MINUTES = 1440


def _text(low: int, high: int, what: str):
    return validate.Length(low, high, error=f"{what}长度应在 {low} 到 {high} 个字之间")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("不能只包含空白字符")


def _minutes(what: str):
    return fields.Integer(strict=True, allow_none=True, validate=validate.Range(
        0, MAX_MINUTES, error=f"{what}必须是 0 到 {MAX_MINUTES} 之间的整数（分钟）"),
        error_messages={"invalid": f"{what}必须是整数（分钟）"})


class ClientId(fields.UUID):
    """A client-generated UUID, kept in canonical lower-case form so 'ABC…' and 'abc…' are one record."""

    default_error_messages = {"invalid_uuid": "必须是 36 位的唯一编号，例如 3f2b8c1e-5d4a-4b7e-9c61-0a1b2c3d4e5f"}

    # Tablets send the canonical form; matching it directly spares uuid.UUID() on every record of a large batch.
    _CANONICAL = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and self._CANONICAL.fullmatch(value):
            return value.lower()
        return str(super()._deserialize(value, attr, data, **kwargs))


class ObserverIn(BaseSchema):
    name = fields.String(required=True, validate=[_text(1, 50, "体验人姓名"), _not_blank], metadata=NOT_BLANK,
                         error_messages={"required": "请填写体验人姓名"})
    title = fields.String(allow_none=True, validate=validate.Length(max=50, error="职务长度不能超过 50 个字"))


class CitizenIn(BaseSchema):
    name = fields.String(allow_none=True, validate=_text(1, 50, "群众姓名"))


class FindingIn(BaseSchema):
    id = ClientId(required=True)
    step = fields.String(required=True, validate=vocabulary("办事环节", STEPS))
    category = fields.String(required=True, validate=vocabulary("问题类别", FINDING_CATEGORIES))
    description = fields.String(required=True, validate=[_text(1, 2000, "问题描述"), _not_blank], metadata=NOT_BLANK)
    severity = fields.String(required=True, validate=vocabulary("严重程度", SEVERITIES))
    suggestion = fields.String(allow_none=True, validate=validate.Length(max=2000, error="建议长度不能超过 2000 个字"))
    needs_rectification = Boolean(required=True)
    wait_minutes = _minutes("等候时长")
    handle_minutes = _minutes("办理时长")


class WalkthroughIn(BaseSchema):
    id = ClientId(required=True)
    hall = fields.String(required=True, validate=validate.Length(1, 32))
    item = fields.String(required=True, validate=validate.Length(1, 64))
    mode = fields.String(required=True, validate=vocabulary("体验方式", WALKTHROUGH_MODES))
    observer = fields.Nested(ObserverIn, required=True)
    citizen = fields.Nested(CitizenIn, allow_none=True)
    started_at = LocalDateTime(required=True)
    ended_at = LocalDateTime(allow_none=True)
    summary = fields.String(allow_none=True, validate=validate.Length(max=5000, error="体验小结不能超过 5000 个字"))
    status = fields.String(required=True, validate=vocabulary("状态", WALKTHROUGH_STATUSES))
    findings = fields.List(fields.Nested(FindingIn), required=True, validate=validate.Length(
        max=MAX_FINDINGS, error=f"每条走流程记录最多 {MAX_FINDINGS} 个问题"))


_record = WalkthroughIn()


def _raw_id(raw) -> str | None:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and len(value) <= 64 else None


class SyncRecords(fields.Field):
    """Each record is validated on its own: a bad one becomes that record's rejection, never the batch's failure."""

    default_error_messages = {"invalid": "走流程记录必须是数组"}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise self.make_error("invalid")
        out = []
        for raw in value:
            if not isinstance(raw, dict):
                out.append(Invalid(None, {"record": ["每条记录必须是 JSON 对象"]}))
                continue
            try:
                out.append(_record.load(raw))
            except ValidationError as exc:
                errors, _detail = validation_problem(exc.messages)
                out.append(Invalid(_raw_id(raw), errors))
        return out


class SyncIn(BaseSchema):
    # Any JSON value is a record the batch takes: one that does not fit WalkthroughIn comes back `rejected` with its
    # errors while the others are stored (200), so the document offers WalkthroughIn first and admits anything.
    walkthroughs = SyncRecords(required=True, metadata={
        "description": "走流程记录数组，每条的结构同 POST /walkthroughs；不符合的记录单独以 rejected 返回，其余照常保存",
        "type": "array", "items": {"anyOf": [{"$ref": "#/components/schemas/WalkthroughIn"},
                                             {"description": "其他值：该条记录以 rejected 返回"}]}})


class SyncResult(BaseSchema):
    id = fields.String(allow_none=True)
    outcome = fields.String(metadata={"description": "created | updated | unchanged | rejected"})
    errors = fields.Dict(metadata={"description": "仅 rejected：字段 → 中文错误信息"})


class SyncOut(BaseSchema):
    results = fields.List(fields.Nested(SyncResult))


# ---- responses ---------------------------------------------------------------------------------------------
class Observer(BaseSchema):
    name = fields.String()
    title = fields.String(allow_none=True)


class Citizen(BaseSchema):
    name = fields.String(allow_none=True, metadata={"description": "已脱敏，如 张*"})


class FindingOut(BaseSchema):
    id = fields.String()
    step = fields.String()
    step_label = fields.String()
    category = fields.String()
    category_label = fields.String()
    description = MaskedText()
    severity = fields.String()
    severity_label = fields.String()
    suggestion = MaskedText(allow_none=True)
    needs_rectification = fields.Boolean()
    wait_minutes = fields.Integer(allow_none=True)
    handle_minutes = fields.Integer(allow_none=True)


class WalkthroughSummary(BaseSchema):
    """Dumps service.walkthroughs.WalkthroughRow."""

    id = fields.String()
    hall = fields.String(attribute="hall_code")
    item = fields.String(attribute="item_code")
    mode = fields.String()
    mode_label = fields.String()
    observer = fields.Nested(Observer)
    citizen = fields.Nested(Citizen, allow_none=True)
    started_at = LocalDateTime()
    ended_at = LocalDateTime(allow_none=True)
    summary = MaskedText(allow_none=True)
    status = fields.String()
    status_label = fields.String()
    submitted_at = LocalDateTime(allow_none=True)
    findings_count = fields.Integer()
    created_at = LocalDateTime()
    updated_at = LocalDateTime()


class WalkthroughOut(WalkthroughSummary):
    findings = fields.List(fields.Nested(FindingOut))


class WalkthroughList(BaseSchema):
    items = fields.List(fields.Nested(WalkthroughSummary))
    next_cursor = fields.String(allow_none=True)


class WalkthroughListQuery(PageQuery):
    hall = fields.String(validate=validate.Length(1, 32))
    status = fields.String(validate=vocabulary("状态", WALKTHROUGH_STATUSES))
    from_ = Date(data_key="from", metadata={"description": "开始日期（含），按体验开始时间，北京时间"})
    to = Date(metadata={"description": "结束日期（含）"})


class VocabEntry(BaseSchema):
    code = fields.String()
    label = fields.String()


class Vocabularies(BaseSchema):
    modes = fields.List(fields.Nested(VocabEntry))
    steps = fields.List(fields.Nested(VocabEntry), metadata={"description": "按办事流程的先后顺序"})
    categories = fields.List(fields.Nested(VocabEntry))
    severities = fields.List(fields.Nested(VocabEntry))
    statuses = fields.List(fields.Nested(VocabEntry))


# ---- 体验反馈表 ----------------------------------------------------------------------------------------------
class CodeName(BaseSchema):
    code = fields.String()
    name = fields.String()


class ItemRef(CodeName):
    department = fields.String()


class CodeLabel(BaseSchema):
    code = fields.String()
    label = fields.String()


class FeedbackFinding(FindingOut):
    """A finding inside its step's group on the 体验反馈表: the step is the group's, not repeated."""

    class Meta(BaseSchema.Meta):
        exclude = ("step", "step_label")


class FeedbackStep(BaseSchema):
    step = fields.String()
    label = fields.String()
    wait_minutes = fields.Integer()
    handle_minutes = fields.Integer()
    findings = fields.List(fields.Nested(FeedbackFinding))


class FeedbackTotals(BaseSchema):
    findings = fields.Integer()
    needs_rectification = fields.Integer()
    wait_minutes = fields.Integer()
    handle_minutes = fields.Integer()
    by_severity = fields.Dict(keys=fields.String(), values=fields.Integer())


class FeedbackSuggestion(BaseSchema):
    """A finding with a suggestion (service.walkthroughs.FindingRow)."""

    finding_id = fields.String(attribute="id")
    step = fields.String()
    step_label = fields.String()
    text = MaskedText(attribute="suggestion")


class FeedbackOut(BaseSchema):
    """Dumps service.walkthroughs.FeedbackForm (the printable page renders the same structure)."""

    walkthrough_id = fields.String()
    list_code = fields.String(allow_none=True, metadata={"description": "整改清单编号；清单生成前为 null"})
    status = fields.String()
    status_label = fields.String()
    hall = fields.Nested(CodeName)
    item = fields.Nested(ItemRef)
    mode = fields.Nested(CodeLabel)
    observer = fields.Nested(Observer)
    citizen = fields.Nested(Citizen, allow_none=True)
    started_at = LocalDateTime()
    ended_at = LocalDateTime(allow_none=True)
    submitted_at = LocalDateTime(allow_none=True)
    duration_minutes = fields.Integer(allow_none=True, metadata={"description": "结束时间减开始时间（整分钟）"})
    summary = MaskedText(allow_none=True)
    totals = fields.Nested(FeedbackTotals)
    steps = fields.List(fields.Nested(FeedbackStep), metadata={"description": "按办事流程顺序，只列出有问题的环节"})
    suggestions = fields.List(fields.Nested(FeedbackSuggestion))


class FeedbackQuery(BaseSchema):
    format = fields.String(load_default="json", validate=vocabulary("格式", FORMATS))
