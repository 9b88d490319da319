"""HTTP wiring of the app: JSON rendering, CORS, the OpenAPI-aware API object, migrations, proxy headers."""
from pathlib import Path

from flask import Flask
from flask.sessions import SessionInterface
from flask_cors import CORS
from flask_migrate import Migrate
from flask_smorest import Api
from werkzeug.middleware.proxy_fix import ProxyFix

from api.openapi import configure_docs
from api.schemas.common import ProblemSchema
from models import db

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class NoCookieSession(SessionInterface):
    """The API is stateless (bearer tokens, receipts) and never uses Flask's cookie session. Flask would still build
    an itsdangerous signing serializer on every request because SECRET_KEY is set; a null session costs nothing."""

    def open_session(self, app, request):
        return None  # Flask then gives the request a NullSession, which refuses writes

    def save_session(self, app, session, response):
        return None


class FeedbackApi(Api):
    # The OpenAPI document describes errors with the problem+json shape they really have.
    ERROR_SCHEMA = ProblemSchema


def configure_json(app: Flask) -> None:
    app.session_interface = NoCookieSession()
    app.json.ensure_ascii = False
    app.json.sort_keys = False


def configure_cors(app: Flask) -> None:
    if app.config["CORS_ORIGINS"]:
        CORS(app, resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
             expose_headers=["ETag", "Idempotent-Replayed", "Retry-After"], max_age=600)


def init_migrate(app: Flask) -> None:
    Migrate(app, db, render_as_batch=True, directory=str(MIGRATIONS))


def init_api(app: Flask) -> Api:
    configure_docs(app)
    return FeedbackApi(app)


def install_proxy_fix(app: Flask) -> None:
    """Outermost, so that the fast path in front of Flask (api.rectification) sees the client's address as Flask
    does."""
    if app.config["TRUST_PROXY_HOPS"]:
        hops = app.config["TRUST_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
