"""Metrics schemas: /stats, /stats/tags, /rankings, /reports."""
from marshmallow import fields, validate

from service.inputs import MONTH_FORMAT_MESSAGE
from service.metrics import GROUPS, SOURCES, WALKTHROUGH_GROUPS
from service.rankings import UNITS
from service.vocab import FORMATS

from .common import BaseSchema, Date, vocabulary


class StatsQuery(BaseSchema):
    hall = fields.String(metadata={"description": "大厅编码：该大厅及其下级大厅"})
    from_ = Date(data_key="from", metadata={"description": "开始日期（含），缺省为本月1日"})
    to = Date(metadata={"description": "结束日期（含），缺省为今天"})
    group_by = fields.String(load_default="hall", validate=vocabulary("分组方式", GROUPS), metadata={
        "description": f"分组；source=walkthrough 时只能是 {'、'.join(WALKTHROUGH_GROUPS)}（否则 422）"})
    source = fields.String(load_default="rating", validate=vocabulary("统计来源", SOURCES), metadata={
        "description": "rating：评价与差评整改（缺省）；walkthrough：走流程发现问题的整改率与按期整改率"})


class StatsRow(BaseSchema):
    """source=walkthrough rows: ratings, bad and every rating figure (好评率, 差评率, 主动评价率, 回访率, 整改满意度)
    are null; rectified_rate and on_time_rate are the walkthrough items'."""
    key = fields.String(allow_none=True)
    label = fields.String()
    ratings = fields.Integer(allow_none=True, metadata={"description": "有效评价数；source=walkthrough 时为 null"})
    bad = fields.Integer(allow_none=True, metadata={"description": "差评数；source=walkthrough 时为 null"})
    items = fields.Integer(metadata={"description": "计入本行的整改事项数（source=rating：差评事项；walkthrough：走流程事项）"})
    good_rate = fields.Float(allow_none=True, metadata={"description": "好评率"})
    bad_rate = fields.Float(allow_none=True, metadata={"description": "差评率"})
    active_rate = fields.Float(allow_none=True, metadata={"description": "主动评价率"})
    rectified_rate = fields.Float(allow_none=True, metadata={"description": "差评整改率"})
    on_time_rate = fields.Float(allow_none=True, metadata={"description": "按期整改率"})
    callback_rate = fields.Float(allow_none=True, metadata={"description": "回访率"})
    answer_satisfaction = fields.Float(allow_none=True, metadata={"description": "整改满意度"})
    verify_on_time_rate = fields.Float(allow_none=True, metadata={
        "description": "核实及时率 = 按期核实的差评事项 / 已核实或已过核实期限的差评事项"})
    named_callback_rate = fields.Float(allow_none=True, metadata={
        "description": "实名差评回访率 = 已回访的实名差评（非匿名且留有手机号）/ 实名差评"})
    accept_wait_days = fields.Float(allow_none=True, metadata={
        "description": "平均等待验收工作日数（已验收事项，提交至验收）"})


class StatsOut(BaseSchema):
    group_by = fields.String()
    source = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    rows = fields.List(fields.Nested(StatsRow))


class TagStatsQuery(BaseSchema):
    hall = fields.String()
    from_ = Date(data_key="from")
    to = Date()


class TagShare(BaseSchema):
    code = fields.String()
    label = fields.String()
    applies_to = fields.String()
    count = fields.Integer(metadata={"description": "本组内带此标签的评价数"})
    base = fields.Integer(metadata={"description": "可带此标签的评价数：差评标签为差评数，好评标签为其余评价数，通用标签为全部"})
    share = fields.Float(allow_none=True, metadata={"description": "占比 = count / base"})


class TagGroup(BaseSchema):
    applies_to = fields.String(metadata={"description": "bad：差评；good：其余评价"})
    label = fields.String()
    ratings = fields.Integer()
    none = fields.Integer(metadata={"description": "本组中未选任何本组标签的评价数（以上均无）"})
    none_share = fields.Float(allow_none=True, metadata={"description": "以上均无的占比"})


class TagStatsOut(BaseSchema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    ratings = fields.Integer(metadata={"description": "范围内的有效主动评价数（不含默认评价）"})
    items = fields.List(fields.Nested(TagShare))
    groups = fields.List(fields.Nested(TagGroup))


class RankingQuery(BaseSchema):
    period = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$",
                                                                   error=MONTH_FORMAT_MESSAGE))
    by = fields.String(load_default="window", validate=vocabulary("排名对象", UNITS))
    hall = fields.String()


class RankingRow(BaseSchema):
    rank = fields.Integer()
    key = fields.String()
    label = fields.String()
    ratings = fields.Integer()
    bad = fields.Integer()
    bad_rate = fields.Float(allow_none=True)
    bound = fields.Float(metadata={"description": "差评率的 Wilson 置信下限（连续性校正，95%）"})
    rank_last_month = fields.Integer(allow_none=True)
    worst_decile_two_months = fields.Boolean(metadata={"description": "连续两个月处于最差的 10%"})


class RankingOut(BaseSchema):
    period = fields.String()
    by = fields.String()
    items = fields.List(fields.Nested(RankingRow))


class ReportQuery(BaseSchema):
    hall = fields.String()
    month = fields.String(validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error=MONTH_FORMAT_MESSAGE))
    format = fields.String(load_default="json", validate=vocabulary("格式", FORMATS))


class ReportOut(BaseSchema):
    month = fields.String()
    hall = fields.Dict()
    halls_covered = fields.Integer()
    headline = fields.Dict()
    last_month = fields.Dict()
    change = fields.Dict()
    daily = fields.List(fields.Dict())
    tags = fields.List(fields.Dict())
    walkthroughs = fields.Dict()
    rectification = fields.Dict()
    worst_windows = fields.List(fields.Nested(RankingRow))
    worst_items = fields.List(fields.Nested(RankingRow))
    by_department = fields.List(fields.Nested(StatsRow), metadata={
        "description": "按部门（谁办理谁负责）的当月指标；未关联事项的评价计入“未指定部门”，各行评价数之和等于当月总数"})
    generated_at = fields.String()
