"""Catalog schemas: halls, windows, service items, tags."""
from marshmallow import fields, validate

from service.vocab import HALL_LEVELS, TAG_APPLIES

from .common import BaseSchema, Boolean, vocabulary

_level = vocabulary("大厅层级", HALL_LEVELS)
_applies = vocabulary("标签适用范围", TAG_APPLIES)
_code = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$", error="编码只能包含字母、数字、-、_、.，且不超过 32 位")
_name = validate.Length(1, 100, error="名称长度应在 1 到 100 个字之间")


class HallOut(BaseSchema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    parent_code = fields.String(allow_none=True)
    address = fields.String(allow_none=True)


class WindowOut(BaseSchema):
    code = fields.String()
    name = fields.String()


class HallDetail(HallOut):
    default_rating_enabled = fields.Boolean()
    windows = fields.List(fields.Nested(WindowOut))


class HallList(BaseSchema):
    items = fields.List(fields.Nested(HallOut))


class HallIn(BaseSchema):
    code = fields.String(required=True, validate=_code)
    name = fields.String(required=True, validate=_name)
    level = fields.String(required=True, validate=_level)
    parent_code = fields.String(allow_none=True, validate=_code)
    address = fields.String(allow_none=True, validate=validate.Length(max=200))
    default_rating_enabled = Boolean()


class HallPatch(BaseSchema):
    name = fields.String(validate=_name)
    level = fields.String(validate=_level)
    parent_code = fields.String(allow_none=True, validate=_code)
    address = fields.String(allow_none=True, validate=validate.Length(max=200))
    default_rating_enabled = Boolean()


class WindowIn(BaseSchema):
    code = fields.String(required=True, validate=_code)
    name = fields.String(required=True, validate=_name)


class WindowPatch(BaseSchema):
    name = fields.String(required=True, validate=_name)


class ItemOut(BaseSchema):
    code = fields.String()
    name = fields.String()
    department = fields.String()


class ItemDetail(ItemOut):
    halls = fields.List(fields.String())


class ItemList(BaseSchema):
    items = fields.List(fields.Nested(ItemOut))


class ItemQuery(BaseSchema):
    hall = fields.String(metadata={"description": "大厅编码：只列出该大厅提供的事项"})
    q = fields.String(validate=validate.Length(max=50), metadata={"description": "按名称、部门或编码搜索"})


class ItemIn(BaseSchema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                                                                 error="事项编码只能包含字母、数字、-、_、."))
    name = fields.String(required=True, validate=validate.Length(1, 200))
    department = fields.String(required=True, validate=_name)
    halls = fields.List(fields.String(validate=_code), load_default=list)


class ItemPatch(BaseSchema):
    name = fields.String(validate=validate.Length(1, 200))
    department = fields.String(validate=_name)
    halls = fields.List(fields.String(validate=_code))


class TagOut(BaseSchema):
    code = fields.String()
    label = fields.String()
    applies_to = fields.String()


class TagList(BaseSchema):
    items = fields.List(fields.Nested(TagOut))


class TagIn(BaseSchema):
    code = fields.String(required=True, validate=_code)
    label = fields.String(required=True, validate=validate.Length(1, 50))
    applies_to = fields.String(required=True, validate=_applies)


class TagPatch(BaseSchema):
    label = fields.String(validate=validate.Length(1, 50))
    applies_to = fields.String(validate=_applies)
