"""The HTML pages people open (API.md 1.1, "Pages people open"): the citizen's rating pages, the rater's page, the
staff console; plus the JSON and print routes behind them (api_routes). Server-rendered, assets served from api/static."""
from flask import Flask, request

from . import api_routes, console, rating, walkthrough_form
from .common import STATIC, page_blueprint

assets = page_blueprint("page_assets", __name__, static_folder=str(STATIC), static_url_path="/static")
PAGE_BLUEPRINTS = [assets, rating.blp, console.blp]


def register(app: Flask) -> None:
    """Register the page blueprints (their forms are checked by api.pages.common.check_form)."""
    for blp in PAGE_BLUEPRINTS:
        app.register_blueprint(blp)

    @app.after_request
    def long_lived_assets(response):
        if request.blueprint == assets.name and request.args.get("v"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


__all__ = ["api_routes", "register", "walkthrough_form"]
