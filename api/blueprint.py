"""The project's Blueprint: flask-smorest's, with a parser that applies the schemas' own `unknown` rule to query
strings too (webargs would otherwise drop unknown query parameters silently, so a typo such as `hal=` widened a
query instead of being refused)."""
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser


class StrictParser(FlaskParser):
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None, "querystring": None}


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = StrictParser()

