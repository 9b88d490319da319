"""The application core: the app factory, configuration, extensions and the domain rules (no HTTP here)."""
import logging

from flask import Flask
from flask.sessions import SessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import load_config
from .extensions import api, init_db


class NoCookieSession(SessionInterface):
    """The API is stateless (bearer tokens, receipts) and never uses Flask's cookie session. Flask would still build
    an itsdangerous signing serializer on every request because SECRET_KEY is set; a null session costs nothing."""

    def open_session(self, app, request):
        return None  # Flask then gives the request a NullSession, which refuses writes

    def save_session(self, app, session, response):
        return None


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    app.session_interface = NoCookieSession()
    load_config(app, overrides)
    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    install_proxy_fix(app)
    return app


def configure_logging(app: Flask) -> None:
    app.logger.setLevel(app.config["LOG_LEVEL"])
    logging.getLogger("service").setLevel(app.config["LOG_LEVEL"])


def install_proxy_fix(app: Flask) -> None:
    """Outermost, so that the fast paths in front of Flask (api.rectification, api.ratings) see the client's
    address as Flask does."""
    if app.config["TRUST_PROXY_HOPS"]:
        hops = app.config["TRUST_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def register_extensions(app: Flask) -> None:
    if app.config["CORS_ORIGINS"]:
        from flask_cors import CORS

        CORS(app, resources={r"/api/*": {"origins": app.config["CORS_ORIGINS"]}},
             expose_headers=["ETag", "Idempotent-Replayed", "Retry-After"], max_age=600)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    init_db(app)
    from api.schemas.common import ProblemSchema

    # The OpenAPI document describes errors with the problem+json shape they really have.
    api.ERROR_SCHEMA = ProblemSchema
    api.init_app(app)


def register_blueprints(app: Flask) -> None:
    from api import register_blueprints as register

    register(api, app)


def register_errorhandlers(app: Flask) -> None:
    from api.errors import register_errorhandlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from jobs.cli import register_commands as register_jobs

    from .cli import register_commands as register

    register(app)
    register_jobs(app)
