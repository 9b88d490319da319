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


class HealthOut(BaseSchema):
    status = fields.String()
    database = fields.String()
    scheduler = fields.Nested(SchedulerStatus)


_health_out = HealthOut()


@blp.route("/health")
class Health(MethodView):
    @public
    @blp.response(200, _health_out)
    def get(self):
        """健康检查"""
        return health.status()
