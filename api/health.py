"""Operational routes: health of the database and the scheduler."""
from flask.views import MethodView
from marshmallow import fields

from service import health

from .access import public
from .blueprint import Blueprint
from .schemas.common import BaseSchema

blp = Blueprint("operations", __name__, description="运行状态")

class SchedulerStatus(BaseSchema):
    last_heartbeat = fields.String(allow_none=True)
    stale = fields.Boolean()


class EventsBacklog(BaseSchema):
    pending = fields.Integer(metadata={"description": "待投递（含失败待重试）的投递数"})
    dead = fields.Integer(metadata={"description": "已放弃、待管理员重试的投递数"})
    oldest_pending_seconds = fields.Integer(allow_none=True, metadata={"description": "最早一条待投递事件的等待秒数"})


class HealthOut(BaseSchema):
    status = fields.String()
    database = fields.String()
    scheduler = fields.Nested(SchedulerStatus)
    events = fields.Nested(EventsBacklog, allow_none=True)


_health_out = HealthOut()


@blp.route("/health")
class Health(MethodView):
    @public
    @blp.response(200, _health_out)
    def get(self):
        """健康检查"""
        return health.status()
