"""Rating routes (好差评): public intake, the rater's own view by receipt, scoped lists for staff."""
from flask import request
from flask.views import MethodView

from service import ratings
from service.auth import authenticate
from service.errors import ValidationFailed

from .access import bearer_token, principal, public, requires
from .blueprint import Blueprint
from .schemas.common import take_page
from .schemas.ratings import RatingCreated, RatingDetail, RatingIn, RatingList, RatingListQuery, ReceiptQuery

blp = Blueprint("ratings", __name__, description="好差评：提交、查看与查询")
# An instance, not the class: webargs would build (and deep-copy the fields of) a new schema on every rating.
RATING_IN = RatingIn()


@blp.route("/ratings")
class Ratings(MethodView):
    @public
    @blp.arguments(RATING_IN)
    @blp.response(201, RatingCreated, headers={"Idempotent-Replayed": {"schema": {"type": "string"},
                                                                       "description": "重放首次响应时为 true"}})
    @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 64},
                          "description": "重试时使用同一个键，不会重复计数"}])
    def post(self, data):
        """提交评价（公开）"""
        client = ratings.Client(ip=request.remote_addr or "", client_id=request.headers.get("X-Client-Id"))
        body, replayed = ratings.submit(data, client=client, idempotency_key=request.headers.get("Idempotency-Key"),
                                        raw_body=request.get_json())
        return (body, 201, {"Idempotent-Replayed": "true"}) if replayed else body

    @requires("staff")
    @blp.arguments(RatingListQuery, location="query")
    @blp.response(200, RatingList)
    def get(self, args):
        """评价列表（按权限范围）"""
        cursor, limit, args = take_page(args)
        items, next_cursor = ratings.list_for(principal(), args, cursor=cursor, limit=limit)
        return {"items": items, "next_cursor": next_cursor}


@blp.route("/ratings/<id:rating_id>")
class RatingById(MethodView):
    @public
    @blp.arguments(ReceiptQuery, location="query")
    @blp.response(200, RatingDetail)
    @blp.doc(security=[{}, {"bearerAuth": []}])
    def get(self, args, rating_id):
        """查看评价：评价人凭回执，或工作人员凭令牌（按权限范围）"""
        token = bearer_token()
        if token:
            return ratings.get_for_staff(authenticate(token), rating_id)
        if not args.get("receipt"):
            raise ValidationFailed({"receipt": ["请提供评价回执（receipt）"]})
        client = ratings.Client(ip=request.remote_addr or "")
        return ratings.get_for_rater(rating_id, args["receipt"], client=client)
