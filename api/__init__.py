"""HTTP layer: blueprints and schemas. Parse and validate, call one service function, dump. No SQL here."""
from flask import Flask
from flask_smorest import Api

from . import cases, catalog, health, jobs, ratings, rectification
from .hooks import init_hooks

PREFIX = "/api/v1"
BLUEPRINTS = [catalog.blp, cases.blp, ratings.blp, health.blp, rectification.blp, jobs.blp]


def register_blueprints(api: Api, app: Flask) -> None:
    init_hooks(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for blp in BLUEPRINTS:
        api.register_blueprint(blp, url_prefix=PREFIX)
