"""Events out (admin): subscriptions of department systems and the provincial platform, and their deliveries."""
from flask.views import MethodView

from service import delivery

from .access import requires
from .blueprint import Blueprint
from .schemas.common import take_page
from .schemas.subscriptions import (
    DeliveryList,
    DeliveryOut,
    DeliveryQuery,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionList,
    SubscriptionOut,
    SubscriptionPatch,
)

blp = Blueprint("subscriptions", __name__, description="事件推送：省好差评平台与部门系统的订阅、投递记录")


@blp.route("/subscriptions")
class Subscriptions(MethodView):
    @requires("admin")
    @blp.response(200, SubscriptionList)
    def get(self):
        """订阅列表（管理员；不含密钥）"""
        return delivery.list_subscriptions()

    @requires("admin")
    @blp.arguments(SubscriptionIn)
    @blp.response(201, SubscriptionCreated)
    def post(self, data):
        """新增订阅（管理员）：签名密钥只在此显示一次"""
        return delivery.create_subscription(data)


@blp.route("/subscriptions/<id:sub_id>")
class SubscriptionById(MethodView):
    @requires("admin")
    @blp.arguments(SubscriptionPatch)
    @blp.response(200, SubscriptionOut)
    def patch(self, data, sub_id):
        """修改订阅：启用/停用、事件类型、接收地址（管理员）"""
        return delivery.update_subscription(sub_id, data)

    @requires("admin")
    @blp.response(204)
    def delete(self, sub_id):
        """删除订阅：不再投递（管理员）"""
        delivery.delete_subscription(sub_id)


@blp.route("/deliveries")
class Deliveries(MethodView):
    @requires("admin")
    @blp.arguments(DeliveryQuery, location="query")
    @blp.response(200, DeliveryList)
    def get(self, args):
        """投递记录：尝试次数、最后状态码、下次重试时间（管理员）"""
        cursor, limit, filters = take_page(args)
        return delivery.list_deliveries(filters, cursor=cursor, limit=limit)


@blp.route("/deliveries/<id:delivery_id>/retry")
class DeliveryRetry(MethodView):
    @requires("admin")
    @blp.response(200, DeliveryOut)
    def post(self, delivery_id):
        """重新投递一条失败或已放弃的投递（管理员）"""
        return delivery.retry(delivery_id)
