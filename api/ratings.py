"""Rating routes (好差评): public intake, the rater's own view by receipt, scoped lists for staff."""
from flask import request
from flask.views import MethodView

from service import follow_ups, ratings
from service.auth import authenticate
from service.errors import ValidationFailed

from .access import bearer_token, principal, public, requires
from .blueprint import Blueprint
from .schemas.common import take_page
from .schemas.ratings import (
    FollowUpCreated,
    FollowUpIn,
    RatingCreated,
    RatingDetail,
    RatingIn,
    RatingList,
    RatingListQuery,
    ReceiptQuery,
)

blp = Blueprint("ratings", __name__, description="好差评：提交、查看与查询")
# Instances, not classes: webargs and flask-smorest would build (and deep-copy the fields of) a schema per request.
RATING_IN = RatingIn()
RATING_CREATED = RatingCreated()
RATING_DETAIL = RatingDetail()
RATING_LIST_QUERY = RatingListQuery()
RATING_LIST = RatingList()
RECEIPT_QUERY = ReceiptQuery()
FOLLOW_UP_IN, FOLLOW_UP_CREATED = FollowUpIn(), FollowUpCreated()
# The 201 carries the receipt, the rater's only key to the rating: no cache may keep it, replays included.
CREATED = {"Cache-Control": "no-store"}
REPLAYED = {**CREATED, "Idempotent-Replayed": "true"}


@blp.route("/ratings")
class Ratings(MethodView):
    @public
    @blp.arguments(RATING_IN)
    @blp.response(201, RATING_CREATED, headers={
        "Idempotent-Replayed": {"schema": {"type": "string"}, "description": "重放首次响应时为 true"},
        "Cache-Control": {"schema": {"type": "string"}, "description": "no-store：响应含回执，不得缓存"}})
    @blp.doc(parameters=[
        {"in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 64},
         "description": "重试时使用同一个键，不会重复计数；键属于评价码（有评价码时）或客户端（地址与 X-Client-Id），"
                        "IDEMPOTENCY_TTL_HOURS 后失效"},
        {"in": "header", "name": "X-Client-Id", "schema": {"type": "string"},
         "description": "客户端标识：无评价码的评价按它与地址限流，并划定 Idempotency-Key 的范围"}])
    def post(self, data):
        """提交评价（公开）"""
        client = ratings.Client(ip=request.remote_addr or "", client_id=request.headers.get("X-Client-Id"))
        created = ratings.submit(data, client=client, idempotency_key=request.headers.get("Idempotency-Key"),
                                 raw_body=request.get_json())
        return created, 201, REPLAYED if created.replayed else CREATED

    @requires("staff")
    @blp.arguments(RATING_LIST_QUERY, location="query")
    @blp.response(200, RATING_LIST)
    def get(self, args):
        """评价列表（按权限范围）"""
        cursor, limit, args = take_page(args)
        items, next_cursor = ratings.list_for(principal(), args, cursor=cursor, limit=limit)
        return {"items": items, "next_cursor": next_cursor}


@blp.route("/ratings/<id:rating_id>")
class RatingById(MethodView):
    @public
    @blp.arguments(RECEIPT_QUERY, location="query")
    @blp.response(200, RATING_DETAIL)
    @blp.doc(security=[{}, {"bearerAuth": []}])
    def get(self, args, rating_id):
        """查看评价：评价人凭回执，或工作人员凭令牌（按权限范围）"""
        token = bearer_token()
        if token:
            return ratings.get_for_staff(authenticate(token), rating_id)
        if not args.get("receipt"):
            raise ValidationFailed({"receipt": ["请提供评价回执"]})
        client = ratings.Client(ip=request.remote_addr or "")
        return ratings.get_for_rater(rating_id, args["receipt"], client=client)


@blp.route("/ratings/<id:rating_id>/follow-up")
class FollowUp(MethodView):
    @public
    @blp.arguments(RECEIPT_QUERY, location="query")
    @blp.arguments(FOLLOW_UP_IN)
    @blp.response(201, FOLLOW_UP_CREATED)
    def post(self, args, data, rating_id):
        """追评（评价人凭回执，每条评价一次，评价期限内）"""
        return follow_ups.follow_up(rating_id, args.get("receipt"), data["comment"], data["tags"])
