"""Rating routes (好差评): public intake, the rater's own view by receipt, scoped lists for staff."""
import io
import json

from flask import Flask, request
from flask.views import MethodView
from marshmallow import ValidationError

from service import ratings
from service.auth import authenticate
from service.errors import ServiceError, ValidationFailed

from .access import bearer_token, principal, public, requires
from .blueprint import Blueprint
from .errors import handle_service_error
from .hooks import add_security_headers, has_nul
from .schemas.common import take_page
from .schemas.plain import PlainLoader
from .schemas.ratings import RatingCreated, RatingDetail, RatingIn, RatingList, RatingListQuery, ReceiptQuery

blp = Blueprint("ratings", __name__, description="好差评：提交、查看与查询")
# An instance, not the class: webargs would build (and deep-copy the fields of) a new schema on every rating.
RATING_IN = RatingIn()
RATING_LOADER = PlainLoader(RATING_IN)  # the fast path's shortcut past marshmallow, for the bodies it can vouch for
RATING_CREATED = RatingCreated()
CREATED_FIELDS = tuple(RATING_CREATED.dump_fields)  # the order in which Flask's path answers them
REPLAYED = {"Idempotent-Replayed": "true"}


@blp.route("/ratings")
class Ratings(MethodView):
    @public
    @blp.arguments(RATING_IN)
    @blp.response(201, RATING_CREATED, headers={"Idempotent-Replayed": {"schema": {"type": "string"},
                                                                       "description": "重放首次响应时为 true"}})
    @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 64},
                          "description": "重试时使用同一个键，不会重复计数"}])
    def post(self, data):
        """提交评价（公开）"""
        client = ratings.Client(ip=request.remote_addr or "", client_id=request.headers.get("X-Client-Id"))
        body, replayed = ratings.submit(data, client=client, idempotency_key=request.headers.get("Idempotency-Key"),
                                        raw_body=request.get_json())
        return (body, 201, REPLAYED) if replayed else body

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


class IntakeFastPath:
    """WSGI middleware for the public intake, POST /api/v1/ratings: every rating a citizen posts. Under gunicorn
    Flask's own per-request machinery (request context, routing, hooks, flask-smorest's and webargs' parsing and
    dumping) cost more than the rating itself, so a well-formed rating is taken here, before Flask: the same body
    checks, schema (RATING_IN), service call (ratings.submit), response schema (RATING_CREATED) and headers as
    Ratings.post. An error the service raises (422, 409, 429 ...) is answered by the same handler Flask uses.

    Anything else goes on to Flask, with the body it sent, and is answered exactly as before: another route or
    method, a query string, an Origin header (CORS adds headers there), no or an oversize Content-Length, a chunked
    body, another content type, a body that is not a JSON object or has a NUL, a body the schema refuses. Nothing
    has been written by then: the service refuses before its write transaction, or rolls it back."""

    def __init__(self, app: Flask, path: str):
        self.app, self.path, self.wsgi_app = app, path, app.wsgi_app
        # What Flask sends for the route's 201, worked out once: werkzeug's status line, the JSON content type and
        # the after_request security headers (private when the request carries Authorization).
        self.status = app.response_class(status=201).status
        self.created = {}
        for private in (False, True):
            model = app.json.response({})
            add_security_headers(model.headers, private=private)
            self.created[private] = [(k, v) for k, v in model.headers.items() if k != "Content-Length"]

    def __call__(self, environ, start_response):
        if (environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == self.path
                and not environ.get("QUERY_STRING") and "HTTP_ORIGIN" not in environ
                and "HTTP_TRANSFER_ENCODING" not in environ):
            length = environ.get("CONTENT_LENGTH", "")
            if length.isdigit() and 0 < int(length) <= self.app.config["MAX_CONTENT_LENGTH"]:
                raw = environ["wsgi.input"].read(int(length))
                response = self.answer(environ, raw)
                if isinstance(response, tuple):
                    headers, payload = response
                    start_response(self.status, headers)
                    return [payload]
                if response is not None:
                    return response(environ, start_response)
                environ["wsgi.input"] = io.BytesIO(raw)  # Flask reads the very bytes the client sent
        return self.wsgi_app(environ, start_response)

    def answer(self, environ, raw: bytes):
        """(headers, body) of a 201, a Response for a refusal, or None to let Flask answer."""
        if environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != "application/json":
            return None
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(body, dict):
            return None
        # json.loads refuses a raw control character in a string, so in UTF-8 a NUL can only come as \u0000.
        if (b"\\u0000" in raw or b"\x00" in raw) and has_nul(body):
            return None
        data = RATING_LOADER.load(body)
        if data is None:
            try:
                data = RATING_IN.load(body)
            except ValidationError:
                return None
        client = ratings.Client(ip=environ.get("REMOTE_ADDR") or "", client_id=environ.get("HTTP_X_CLIENT_ID"))
        with self.app.app_context():
            try:
                created, replayed = ratings.submit(data, client=client, raw_body=body,
                                                   idempotency_key=environ.get("HTTP_IDEMPOTENCY_KEY"))
            except ServiceError as error:
                response = handle_service_error(error)
                add_security_headers(response.headers, private="HTTP_AUTHORIZATION" in environ)
                return response
            # As the app's JSON provider renders it (app.json.response), without building a Response.
            # Its fields are ints, strings and booleans already rendered, which RATING_CREATED dumps as they are.
            created = {key: created[key] for key in CREATED_FIELDS if key in created}
            payload = f"{self.app.json.dumps(created, separators=(',', ':'))}\n".encode()
        headers = [*self.created["HTTP_AUTHORIZATION" in environ], ("Content-Length", str(len(payload)))]
        if replayed:
            headers += REPLAYED.items()
        return headers, payload


def install_intake_fast_path(app: Flask, prefix: str) -> None:
    if app.config["RATING_FAST_PATH"]:
        app.wsgi_app = IntakeFastPath(app, f"{prefix}/ratings")
