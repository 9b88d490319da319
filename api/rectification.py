"""Rectification routes (一体验一反馈一清单): lists, items, actions, supervisor polling, the rater's answer."""
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError

from service import rectification

from .access import bearer_token, principal, public, requires
from .schemas.ratings import ReceiptQuery
from .schemas.rectification import (
    ActionIn,
    AnswerIn,
    AnswerOut,
    RectificationDetail,
    RectificationListDetail,
    RectificationListPage,
    RectificationListQuery,
    RectificationPage,
    RectificationQuery,
)

blp = Blueprint("rectification", __name__, description="一体验一反馈一清单：整改清单与整改事项")

_etag_header = {"ETag": {"schema": {"type": "string"}, "description": "当前结果的 ETag，轮询时放入 If-None-Match"}}


@blp.route("/rectification-lists")
class Lists(MethodView):
    @requires("staff")
    @blp.arguments(RectificationListQuery, location="query")
    @blp.response(200, RectificationListPage)
    def get(self, args):
        """整改清单列表（按权限范围）"""
        cursor, limit = args.pop("cursor", None), args.pop("limit")
        return rectification.list_lists(principal(), args, cursor=cursor, limit=limit)


@blp.route("/rectification-lists/<code>")
class ListByCode(MethodView):
    @requires("staff")
    @blp.response(200, RectificationListDetail)
    def get(self, code):
        """整改清单及其事项"""
        return rectification.get_list(principal(), code)


def _poll_args(args: dict) -> tuple[dict, str | None, int]:
    """(filters, cursor, limit) from the parsed query, in the form poll_items and its ETag take them."""
    cursor, limit = args.pop("cursor", None), args.pop("limit")
    if "list_" in args:
        args["list"] = args.pop("list_")
    return args, cursor, limit


def _not_modified(etag: str):
    return current_app.response_class(status=304, headers={"ETag": etag})


@blp.route("/rectifications")
class Items(MethodView):
    @requires("staff")
    @blp.arguments(RectificationQuery, location="query")
    @blp.response(200, RectificationPage, headers=_etag_header)
    @blp.alt_response(304, description="结果未变化（If-None-Match 与当前 ETag 相同），无响应体")
    @blp.doc(parameters=[{"in": "header", "name": "If-None-Match", "schema": {"type": "string"},
                          "description": "上次响应的 ETag"}])
    def get(self, args):
        """整改事项（监管轮询：updated_since、游标分页、ETag）"""
        filters, cursor, limit = _poll_args(args)
        body, etag = rectification.poll_items(principal(), filters, cursor=cursor, limit=limit,
                                              if_none_match=request.headers.get("If-None-Match"))
        if body is None:
            return _not_modified(etag)
        return body, 200, {"ETag": etag}


_poll_query = RectificationQuery()
_parsed_queries: dict[bytes, tuple | None] = {}  # raw query string → loaded args; bounded below


def _load_poll_query(raw) -> tuple | None:
    """The query as @blp.arguments loads it (same schema), or None for anything unusual."""
    if any(len(values) > 1 for values in raw.listvalues()):
        return None  # webargs would take the first value; not worth imitating here
    try:
        return tuple(_poll_query.load(raw.to_dict()).items())
    except ValidationError:
        return None


def _poll_query_args() -> dict | None:
    # A poller sends the same few query strings again and again, and the args follow from the raw string alone.
    key = request.query_string
    found = _parsed_queries.get(key, False)
    if found is False:
        found = _load_poll_query(request.args)
        if len(_parsed_queries) >= 256:
            _parsed_queries.clear()
        _parsed_queries[key] = found
    return None if found is None else dict(found)


@blp.before_request
def poll_not_modified():
    """Supervisors poll GET /rectifications with If-None-Match, and nearly every answer is a 304: answer it here,
    before flask-smorest's argument parsing and the Session, with the same token check, role, query schema and ETag
    as Items.get. Anything else (no If-None-Match, a changed result, a bad token, a refused role or hall, a query
    the schema rejects, a repeated parameter) returns None: the normal path then answers exactly as it always did,
    so 401/403/404/400/422 come from the one place they always came from."""
    if request.method != "GET" or request.endpoint != "rectification.Items":
        return None
    if_none_match = request.headers.get("If-None-Match")
    if not if_none_match:
        return None
    args = _poll_query_args()
    if args is None:
        return None
    filters, cursor, limit = _poll_args(args)
    etag = rectification.current_etag_if_matches(bearer_token(), Items.get._access, filters, cursor=cursor,
                                                 limit=limit, if_none_match=if_none_match)
    return None if etag is None else _not_modified(etag)


@blp.route("/rectifications/<id:item_id>")
class ItemById(MethodView):
    @requires("staff")
    @blp.response(200, RectificationDetail)
    def get(self, item_id):
        """整改事项详情及处理记录"""
        return rectification.get_item(principal(), item_id)


@blp.route("/rectifications/<id:item_id>/actions")
class ItemActions(MethodView):
    @requires("staff")
    @blp.arguments(ActionIn)
    @blp.response(200, RectificationDetail)
    @blp.doc(parameters=[{"in": "header", "name": "If-Match", "schema": {"type": "string"},
                          "description": "事项的 version；与当前版本不一致时返回 412"}])
    def post(self, data, item_id):
        """对整改事项执行操作（核实、申诉、提交、验收、退回、回头看）"""
        return rectification.act(principal(), item_id, data, request.headers.get("If-Match"))


@blp.route("/ratings/<id:rating_id>/answer-satisfaction")
class AnswerSatisfaction(MethodView):
    @public
    @blp.arguments(ReceiptQuery, location="query")
    @blp.arguments(AnswerIn)
    @blp.response(200, AnswerOut)
    def post(self, args, data, rating_id):
        """评价人对差评整改结果的满意度（1–2 分将重新整改）"""
        return rectification.answer_satisfaction(rating_id, args.get("receipt"), data["score"])
