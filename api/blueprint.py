"""The project's Blueprint: flask-smorest's, with a parser that applies the schemas' own `unknown` rule to query
strings too (webargs would otherwise drop unknown query parameters silently, so a typo such as `hal=` widened a
query instead of being refused), and that loads the JSON body api.hooks.check_body has already parsed."""
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.core import missing
from webargs.flaskparser import FlaskParser, is_json_request


class StrictParser(FlaskParser):
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": None, "querystring": None}

    def _raw_load_json(self, req):
        """The body api.hooks.check_body parsed (strictly, once) and left on the request; webargs' own parse of the
        bytes only for a request that check did not parse."""
        if not is_json_request(req):
            return missing
        cached = req._cached_json[False]
        return super()._raw_load_json(req) if cached is Ellipsis else cached


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = StrictParser()

