"""Rectification routes (一体验一反馈一清单): lists, items, actions, supervisor polling, the rater's answer."""
from flask import Flask, current_app, request
from flask.views import MethodView
from marshmallow import ValidationError
from werkzeug.wrappers import Request

from service import (
    rectification,
    rectification_actions,
    rectification_contact,
    rectification_lists,
    rectification_polling,
    rectification_rater,
)

from .access import principal, public, requires, token_of
from .blueprint import Blueprint
from .hooks import add_security_headers
from .schemas.common import take_page
from .schemas.ratings import ReceiptQuery
from .schemas.rectification import (
    ActionIn,
    AnswerIn,
    AnswerOut,
    ContactOut,
    RectificationDetail,
    RectificationListDetail,
    RectificationListPage,
    RectificationListQuery,
    RectificationPage,
    RectificationQuery,
)

blp = Blueprint("rectification", __name__, description="一体验一反馈一清单：整改清单与整改事项")

_list_query, _list_page, _list_detail = RectificationListQuery(), RectificationListPage(), RectificationListDetail()
_poll_query, _page, _detail = RectificationQuery(), RectificationPage(), RectificationDetail()
_action_in, _receipt_query, _answer_in, _answer_out = ActionIn(), ReceiptQuery(), AnswerIn(), AnswerOut()
_contact_out = ContactOut()

_etag_header = {"ETag": {"schema": {"type": "string"}, "description": "当前结果的 ETag，轮询时放入 If-None-Match"}}


@blp.route("/rectification-lists")
class Lists(MethodView):
    @requires("staff")
    @blp.arguments(_list_query, location="query")
    @blp.response(200, _list_page)
    def get(self, args):
        """整改清单列表（按权限范围）"""
        cursor, limit, filters = take_page(args)
        return rectification_lists.list_lists(principal(), filters, cursor=cursor, limit=limit)


@blp.route("/rectification-lists/<code>")
class ListByCode(MethodView):
    @requires("staff")
    @blp.response(200, _list_detail)
    def get(self, code):
        """整改清单及其事项"""
        return rectification_lists.get_list(principal(), code)


def _poll_args(args: dict) -> tuple[dict, str | None, int]:
    """(filters, cursor, limit) from the parsed query, in the form poll_items and its ETag take them."""
    cursor, limit, filters = take_page(args)
    return filters, cursor, limit


def _not_modified(etag: str):
    return current_app.response_class(status=304, headers={"ETag": etag})


@blp.route("/rectifications")
class Items(MethodView):
    @requires("staff")
    @blp.arguments(_poll_query, location="query")
    @blp.response(200, _page, headers=_etag_header)
    @blp.alt_response(304, description="结果未变化（If-None-Match 与当前 ETag 相同），无响应体")
    @blp.doc(parameters=[{"in": "header", "name": "If-None-Match", "schema": {"type": "string"},
                          "description": "上次响应的 ETag"}])
    def get(self, args):
        """整改事项（监管轮询：updated_since、游标分页、ETag）"""
        filters, cursor, limit = _poll_args(args)
        body, etag = rectification_polling.poll_items(principal(), filters, cursor=cursor, limit=limit,
                                                      if_none_match=request.headers.get("If-None-Match"))
        if body is None:
            return _not_modified(etag)
        return body, 200, {"ETag": etag}


_parsed_queries: dict[bytes, tuple | None] = {}  # raw query string → loaded args; bounded below


def _load_poll_query(raw) -> tuple | None:
    """The query as @blp.arguments loads it (same schema), or None for anything unusual."""
    if any(len(values) > 1 for values in raw.listvalues()):
        return None  # webargs would take the first value; not worth imitating here
    if any("\x00" in k or "\x00" in v for k, v in raw.items()):
        return None  # the normal path's 422 (api.hooks.check_body)
    try:
        return tuple(_poll_query.load(raw.to_dict()).items())
    except ValidationError:
        return None


def _poll_query_args(request: Request) -> dict | None:
    # A poller sends the same few query strings again and again, and the args follow from the raw string alone.
    key = request.query_string
    found = _parsed_queries.get(key, False)
    if found is False:
        found = _load_poll_query(request.args)
        if len(_parsed_queries) >= 256:
            _parsed_queries.clear()
        _parsed_queries[key] = found
    return None if found is None else dict(found)


class PollFastPath:
    """WSGI middleware for the supervisors' poll: GET /api/v1/rectifications with If-None-Match, where nearly every
    answer is a 304. Under gunicorn Flask's own per-request machinery (request context, routing, hooks, session,
    flask-smorest's parsing) cost more than the work, so the 304 is answered here, before Flask: same token check,
    role (Items.get's), query schema, ETag (service.rectification) and response headers as the normal path.

    Anything else goes on to Flask untouched and is answered exactly as before: another route or method, no
    If-None-Match, an Origin header (CORS adds headers there), a query the schema rejects or with a repeated
    parameter or a NUL, no or a bad token, a refused role or hall, a forged cursor, a tag that does not match, or
    an error while trying (logged)."""

    def __init__(self, app: Flask, path: str):
        self.app, self.path, self.wsgi_app = app, path, app.wsgi_app
        # What Flask sends for the normal path's 304, worked out once: werkzeug's status line and, after the ETag,
        # the after_request security headers (it carries Authorization, so private); building a Response and its
        # WSGI headers per request cost as much as the rest of the 304.
        model = app.response_class(status=304)
        add_security_headers(model.headers, private=True)
        self.status = model.status
        self.headers = [(k, v) for k, v in model.headers.items() if k.lower() != "content-type"]

    def __call__(self, environ, start_response):
        if (environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO") == self.path
                and environ.get("HTTP_IF_NONE_MATCH") and "HTTP_ORIGIN" not in environ):
            try:
                response = self.not_modified(Request(environ))
            except Exception:  # noqa: BLE001 - the normal path answers, and reports, whatever went wrong
                self.app.logger.warning("polling fast path failed; the normal path answers", exc_info=True)
                response = None
            if response is not None:
                start_response(self.status, response)
                return []
        return self.wsgi_app(environ, start_response)

    def not_modified(self, request: Request) -> list[tuple[str, str]] | None:
        """The 304's headers, or None to let Flask answer."""
        args = _poll_query_args(request)
        if args is None:
            return None
        filters, cursor, limit = _poll_args(args)
        with self.app.app_context():
            etag = rectification_polling.current_etag_if_matches(
                token_of(request.headers.get("Authorization", "")), Items.get._access, filters, cursor=cursor, limit=limit,
                if_none_match=request.headers.get("If-None-Match"))
        return None if etag is None else [("ETag", etag), *self.headers]


def install_poll_fast_path(app: Flask, prefix: str) -> None:
    if app.config["POLL_FAST_PATH"]:
        app.wsgi_app = PollFastPath(app, f"{prefix}/rectifications")


@blp.route("/rectifications/<id:item_id>")
class ItemById(MethodView):
    @requires("staff")
    @blp.response(200, _detail)
    def get(self, item_id):
        """整改事项详情及处理记录"""
        return rectification.get_item(principal(), item_id)


@blp.route("/rectifications/<id:item_id>/contact")
class ItemContact(MethodView):
    @requires("staff")
    @blp.response(200, _contact_out, headers={"Cache-Control": {"schema": {"type": "string"},
                                                               "description": "no-store：含个人信息，不得缓存"}})
    def get(self, item_id):
        """评价人联系方式（回访用；每次查看均记入处理记录）"""
        return rectification_contact.contact(principal(), item_id), 200, {"Cache-Control": "no-store"}


@blp.route("/rectifications/<id:item_id>/actions")
class ItemActions(MethodView):
    @requires("staff")
    @blp.arguments(_action_in)
    @blp.response(200, _detail)
    @blp.doc(parameters=[{"in": "header", "name": "If-Match", "schema": {"type": "string"},
                          "description": "事项的 version；与当前版本不一致时返回 412"}])
    def post(self, data, item_id):
        """对整改事项执行操作（核实、申诉、提交、验收、退回、回头看）"""
        return rectification_actions.act(principal(), item_id, data, request.headers.get("If-Match"))


@blp.route("/ratings/<id:rating_id>/answer-satisfaction")
class AnswerSatisfaction(MethodView):
    @public
    @blp.arguments(_receipt_query, location="query")
    @blp.arguments(_answer_in)
    @blp.response(200, _answer_out)
    def post(self, args, data, rating_id):
        """评价人对差评整改结果的满意度（1–2 分将重新整改）"""
        return rectification_rater.answer_satisfaction(rating_id, args.get("receipt"), data["score"])
