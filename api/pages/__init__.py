"""The HTML pages people open (API.md 1.1, "Pages people open"): the citizen's rating pages, the rater's page, the
staff console; plus the JSON and print routes behind them (api_routes). Server-rendered, assets served from api/static."""
from flask import Flask, request

from service.database import declare_write_intent
from service.errors import ValidationFailed

from .. import hooks
from . import api_routes, console, rating
from .common import STATIC, form_has_nul, page_blueprint

assets = page_blueprint("page_assets", __name__, static_folder=str(STATIC), static_url_path="/static")
PAGE_BLUEPRINTS = [assets, rating.blp, console.blp]
PAGE_NAMES = frozenset(b.name for b in PAGE_BLUEPRINTS)
WRITE_AHEAD = frozenset({console.blp.name})


def check_body():
    """api.hooks.check_body for the JSON API; pages take form posts instead, and refuse NUL like every API route.
    A console POST declares its write up front (on SQLite its Session then begins with BEGIN IMMEDIATE, as an API
    write does); the citizen's posts do not: the intake writes on its own connection (plain statements), which a
    Session holding the write lock would block."""
    if request.blueprint not in PAGE_NAMES:
        return hooks.check_body()
    if request.method in hooks.WRITE_METHODS and request.blueprint in WRITE_AHEAD:
        declare_write_intent(True)
    if form_has_nul():
        raise ValidationFailed({"body": ["文本中不能包含空字符"]})
    return None


def register(app: Flask) -> None:
    """Register the page blueprints; call after api.hooks.init_hooks, whose JSON-only body check this narrows to
    the API (a page form posts application/x-www-form-urlencoded)."""
    funcs = app.before_request_funcs.setdefault(None, [])
    funcs[:] = [check_body if f is hooks.check_body else f for f in funcs]
    for blp in PAGE_BLUEPRINTS:
        app.register_blueprint(blp)

    @app.after_request
    def long_lived_assets(response):
        if request.blueprint == assets.name and request.args.get("v"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


__all__ = ["api_routes", "register"]
