"""Building blocks shared by every resource's schemas."""
from marshmallow import RAISE, Schema, fields, validate

from service.timeutil import SHANGHAI


class BaseSchema(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class LocalDateTime(fields.AwareDateTime):
    """Accepts ISO 8601 with an offset; answers in Asia/Shanghai (+08:00)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None or isinstance(value, str):  # already rendered (e.g. a replayed response)
            return value
        return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def code_field(**kw):
    return fields.String(validate=validate.Length(1, 64), **kw)


class PageQuery(BaseSchema):
    cursor = fields.String(metadata={"description": "上一页返回的 next_cursor"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200, error="limit 必须在 1 到 200 之间"))


class ProblemSchema(Schema):
    """RFC 9457 problem details, with a stable machine-readable code and a Chinese detail."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    code = fields.String()
    detail = fields.String()
    errors = fields.Dict(metadata={"description": "字段 → 错误信息列表"})
    allowed_actions = fields.List(fields.String())


def take_page(args: dict) -> tuple[str | None, int, dict]:
    """(cursor, limit, filters) from a loaded list query; `from_`-style keys (Python keywords) lose their '_'."""
    cursor, limit = args.pop("cursor", None), args.pop("limit")
    return cursor, limit, {key.rstrip("_"): value for key, value in args.items()}
