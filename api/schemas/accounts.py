"""Account schemas (admin): an account as every answer shows it (never its token hash), the one-time token, input."""
from marshmallow import fields, validate

from service.vocab import ROLES

from .common import NOT_BLANK, BaseSchema, LocalDateTime, PageQuery, QueryBoolean, code_field, vocabulary

_role = vocabulary("角色", ROLES)
_role_doc = "、".join(f"{k} {v}" for k, v in ROLES.items())


class AccountOut(BaseSchema):
    id = fields.Integer()
    name = fields.String()
    role = fields.String(metadata={"description": _role_doc})
    role_label = fields.String()
    hall = fields.String(allow_none=True, metadata={"description": "所属大厅编码（管理员可为空：全部大厅）"})
    active = fields.Boolean()
    created_at = LocalDateTime()


class AccountWithToken(AccountOut):
    token = fields.String(metadata={"description": "访问令牌，只在此响应中出现一次（服务器只保存其哈希）"})


class AccountPage(BaseSchema):
    items = fields.List(fields.Nested(AccountOut))
    next_cursor = fields.String(allow_none=True)


class AccountQuery(PageQuery):
    hall = code_field(metadata={"description": "所属大厅编码"})
    role = fields.String(validate=_role, metadata={"description": _role_doc})
    active = QueryBoolean(metadata={"description": "true 只列启用的账号，false 只列已停用的账号"})


class AccountIn(BaseSchema):
    role = fields.String(required=True, validate=_role, metadata={"description": _role_doc})
    hall = code_field(allow_none=True, metadata={"description": "所属大厅编码；工作人员和监管账号必填"})
    name = fields.String(required=True, validate=validate.Length(1, 100, error="账号名称长度应在 1 到 100 个字之间"),
                         metadata=NOT_BLANK)  # the service refuses a blank name
