"""The composition root: builds the app from the four layers. The only code that imports api/, jobs/ and service/
together; wsgi.py, the CLI and the tests start here."""
import logging

from flask import Flask
from flask.logging import default_handler

from api import register_blueprints as register_api_blueprints
from api.errors import register_errorhandlers as register_api_errorhandlers
from jobs.cli import register_commands as register_job_commands
from service.config import load_config
from service.database import init_db

from . import commands, http


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask("service", instance_relative_config=True, static_folder=None)
    load_config(app, overrides)
    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    http.install_proxy_fix(app)
    return app


def configure_logging(app: Flask) -> None:
    """The app's logger is "service" (Flask gives it its stream handler); the scheduler's "jobs" logger writes
    through the same handler, or its lease changes and start-up line would be dropped below WARNING."""
    app.logger.setLevel(app.config["LOG_LEVEL"])
    jobs = logging.getLogger("jobs")
    jobs.setLevel(app.config["LOG_LEVEL"])
    if default_handler not in jobs.handlers:
        jobs.addHandler(default_handler)


def register_extensions(app: Flask) -> None:
    http.configure_json(app)
    http.configure_cors(app)
    init_db(app)
    http.init_migrate(app)
    app.extensions["feedback_api"] = http.init_api(app)


def register_blueprints(app: Flask) -> None:
    register_api_blueprints(app.extensions["feedback_api"], app)


def register_errorhandlers(app: Flask) -> None:
    register_api_errorhandlers(app)


def register_commands(app: Flask) -> None:
    commands.register(app)
    register_job_commands(app)
