"""HTTP layer: blueprints and schemas. Parse and validate, call one service function, dump. No SQL here."""
from flask import Flask
from flask_smorest import Api
from werkzeug.routing import IntegerConverter

from . import (
    accounts,
    cases,
    catalog,
    health,
    jobs,
    openapi,
    pages,
    ratings,
    rectification,
    reports,
    stats,
    subscriptions,
    walkthroughs,
)
from .hooks import init_hooks

PREFIX = "/api/v1"
BLUEPRINTS = [catalog.blp, cases.blp, ratings.blp, walkthroughs.blp, rectification.blp, stats.blp, reports.blp,
              jobs.blp, health.blp, accounts.blp, subscriptions.blp, pages.api_routes.blp]


class IdConverter(IntegerConverter):
    """A row id: 1 to 2**63-1, so an absurd id is a 404 and never overflows the database's integer."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=2**63 - 1)


def register_blueprints(api: Api, app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter
    api.register_converter(IdConverter, lambda _: {"type": "integer", "minimum": 1, "maximum": 2**63 - 1})
    init_hooks(app)
    pages.register(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for blp in BLUEPRINTS:
        api.register_blueprint(blp, url_prefix=PREFIX)
    rectification.install_poll_fast_path(app, PREFIX)
    openapi.install(api, app, PREFIX)
