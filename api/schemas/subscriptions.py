"""Events-out schemas: subscriptions (webhook or provincial format) and their deliveries."""
from marshmallow import fields, validate

from service.delivery import FORMATS, RECEIVER_URL_PATTERN, STATUSES
from service.outbox import TYPES

from .common import BaseSchema, Boolean, LocalDateTime, PageQuery, vocabulary

# Checked by service.delivery (the CLI takes the same rule); declared here for the document.
_url_doc = {"pattern": RECEIVER_URL_PATTERN, "description": "接收地址：http:// 或 https://，主机名或 IPv4 地址，可带端口和路径"}
_type = vocabulary("事件类型", TYPES)


class SubscriptionIn(BaseSchema):
    name = fields.String(required=True, validate=validate.Length(1, 100, error="名称长度应在 1 到 100 个字之间"))
    url = fields.String(required=True, validate=validate.Length(max=500), metadata=_url_doc)
    events = fields.List(fields.String(validate=_type), required=True,
                         validate=validate.Length(1, len(TYPES), error="请订阅 1 到 10 种事件"))
    format = fields.String(required=True, validate=vocabulary("推送格式", FORMATS))


class SubscriptionPatch(BaseSchema):
    active = Boolean()
    events = fields.List(fields.String(validate=_type),
                         validate=validate.Length(1, len(TYPES), error="请订阅 1 到 10 种事件"))
    url = fields.String(validate=validate.Length(max=500), metadata=_url_doc)


class SubscriptionOut(BaseSchema):
    id = fields.Integer()
    name = fields.String()
    url = fields.String()
    events = fields.List(fields.String())
    format = fields.String()
    active = fields.Boolean()
    disabled_reason = fields.String(allow_none=True, metadata={"description": "停用原因（管理员停用、接收方 410 等）"})
    created_at = LocalDateTime()


class SubscriptionCreated(SubscriptionOut):
    secret = fields.String(metadata={"description": "签名密钥，只在创建时显示这一次"})


class SubscriptionList(BaseSchema):
    items = fields.List(fields.Nested(SubscriptionOut))


class DeliveryQuery(PageQuery):
    subscription = fields.Integer(validate=validate.Range(1, 2**63 - 1))
    status = fields.String(validate=vocabulary("投递状态", STATUSES))


class DeliveryOut(BaseSchema):
    id = fields.Integer()
    subscription = fields.Integer()
    event_id = fields.Integer()
    event_type = fields.String()
    status = fields.String(metadata={"description": "pending | delivered | failed（待重试）| dead（已放弃）"})
    attempts = fields.Integer()
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    next_attempt_at = LocalDateTime(allow_none=True)
    last_attempt_at = LocalDateTime(allow_none=True)
    delivered_at = LocalDateTime(allow_none=True)
    created_at = LocalDateTime()


class DeliveryList(BaseSchema):
    items = fields.List(fields.Nested(DeliveryOut))
    next_cursor = fields.String(allow_none=True)
