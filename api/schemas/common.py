"""Building blocks shared by every resource's schemas."""
from datetime import date

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from service.errors import ValidationFailed
from service.inputs import DATE_RANGE_MESSAGE, EARLIEST, LATEST, in_supported_range
from service.security import mask_free_text
from service.timeutil import SHANGHAI
from service.vocab import one_of


class BaseSchema(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


# Dates the service takes in (docs/api-decisions.md, General): a year 1 or 9999 would overflow the conversions to
# Asia/Shanghai and the month arithmetic, and no real record of this service lies outside these years.
DATE_PATTERN = r"^20\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
DATETIME_PATTERN = (r"^20\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?"
                    r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$")


MONTH_RANGE_MESSAGE = f"月份超出支持范围（{EARLIEST:%Y-%m} 至 {LATEST:%Y-%m}）"


def check_month(month: str | None, field: str) -> None:
    """A YYYY-MM (its format checked by the schema's pattern) within the supported range, else a 422."""
    if month is None:
        return
    try:
        first = date(int(month[:4]), int(month[5:7]), 1)
    except ValueError:
        return  # the service words the format error
    if not in_supported_range(first):
        raise ValidationFailed({field: [MONTH_RANGE_MESSAGE]})


class Date(fields.Date):
    """A calendar date (YYYY-MM-DD) within the supported range."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.metadata = {"pattern": DATE_PATTERN, **self.metadata}

    def _deserialize(self, value, attr, data, **kwargs):
        day = super()._deserialize(value, attr, data, **kwargs)
        if not in_supported_range(day):
            raise ValidationError(DATE_RANGE_MESSAGE)
        return day


class Boolean(fields.Boolean):
    """A body's boolean: JSON true or false, nothing else. marshmallow's own also reads 0, 1, "true", "yes" … as
    booleans (and a truthy set of {True} would still take 1, since 1 == True), which hides a client's bug and is not
    what `type: boolean` in the document says."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True or value is False:
            return value
        raise self.make_error("invalid")


class QueryBoolean(fields.Boolean):
    """A boolean query parameter: the words true or false, as OpenAPI writes a boolean into a query string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value in ("true", "false"):
            return value == "true"
        raise self.make_error("invalid")


class MaskedText(fields.String):
    """Free text as answers show it: phone and ID numbers typed into it are masked (service.security)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return mask_free_text(super()._serialize(value, attr, obj, **kwargs))


class LocalDateTime(fields.AwareDateTime):
    """Accepts ISO 8601 with an offset, its date (as written) within the supported range; answers in Asia/Shanghai
    (+08:00)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.metadata = {"pattern": DATETIME_PATTERN, **self.metadata}

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        # The date as written, never converted first: 0001-01-01T00:00:00+14:00 has no UTC year to convert to.
        if not in_supported_range(moment.date()):
            raise ValidationError(DATE_RANGE_MESSAGE)
        return moment

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None or isinstance(value, str):  # already rendered (e.g. a replayed response)
            return value
        return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


LIMIT_MESSAGE = "每页条数必须在 1 到 200 之间"
# Text that must hold more than spaces (a name, a description), as the service judges it with str.strip(). Python's
# \s is the very set str.strip() removes, so a generator reading this pattern agrees with the service; NUL is
# excluded too, as in every text of the document.
NOT_BLANK = {"pattern": r"^[^\x00]*[^\s\x00][^\x00]*$"}


def code_field(**kw):
    return fields.String(validate=validate.Length(1, 64), **kw)


class PageQuery(BaseSchema):
    cursor = fields.String(metadata={"description": "上一页返回的 next_cursor"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200, error=LIMIT_MESSAGE))


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


def vocabulary(what: str, labels: dict[str, str]) -> validate.OneOf:
    """A closed vocabulary's codes, refused in words: what the field is and its values' Chinese labels."""
    return validate.OneOf(list(labels), error=one_of(what, labels))
