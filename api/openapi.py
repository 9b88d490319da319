"""The OpenAPI document a client generates code from, completed once when the app is built, and its browsable UI.

flask-smorest describes each view's schemas; what every route shares is added here, from what the app really does:
an operationId and a description per operation, every error status it can answer as application/problem+json with
its `code` values (check_body, authentication, roles, path parameters and scope, the service's own refusals), the
header parameters the service reads, and patterns for the values a generator cannot guess (months, cursors).
"""
import base64
import copy
import re
from pathlib import Path

from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from .contract import BEYOND_SCHEMA, ENUMS, EXAMPLES, HEADERS, ROLE_LABELS, SCHEMA_ENUMS, SERVICE_CODES, STATUS_TEXT
from .errors import FIELD_LABELS

PROBLEM = "application/problem+json"
WRITE_METHODS = ("post", "put", "patch", "delete")
MONTH_PATTERN = r"^20\d{2}-(0[1-9]|1[0-2])$"
NO_NUL_PATTERN = r"^[^\x00]*$"


def _cursor_pattern() -> str:
    """Exactly the cursors service.pagination issues: base64url, unpadded, of '{"id": N}' (N up to 18 digits).

    A generator given a looser pattern sends cursors the server must refuse (400 invalid_cursor) although they
    looked valid. The body after '{"id":' is ' ' digits '}', encoded three bytes at a time; each chunk kind is a
    finite set of encodings, written here as a product of per-position alternatives (checked against the set)."""
    digits, nonzero = b"0123456789", b"123456789"

    def chunks(*positions: bytes) -> str:
        encoded = {base64.urlsafe_b64encode(bytes(combo)).decode().rstrip("=") for combo in _product(positions)}
        # The first two characters depend on the first byte together; later characters each on one byte.
        heads = sorted({e[:2] for e in encoded})
        tails = [sorted({e[i] for e in encoded}) for i in range(2, len(next(iter(encoded))))]
        regex = "(?:" + "|".join(heads) + ")" + "".join(f"[{''.join(t)}]" for t in tails)
        assert len(encoded) == len(heads) * _size(tails), "cursor chunk is not a product"
        return regex

    first_one = chunks(b" ", nonzero, b"}")         # N of one digit (ids start at 1)
    first = chunks(b" ", nonzero, digits)           # N of two or more: no leading zero
    middle = chunks(digits, digits, digits)
    last = [chunks(b"}"), chunks(digits, b"}"), chunks(digits, digits, b"}")]
    tail = "(?:" + "|".join(last) + ")"
    # An empty cursor is the first page, as no cursor is.
    return (f"^(?:eyJpZCI6(?:{first_one}|{first}(?:(?:{middle}){{0,4}}{tail}|(?:{middle}){{5}}"
            f"(?:{last[0]}|{last[1]}))))?$")


def _product(positions):
    combos = [[]]
    for options in positions:
        combos = [[*combo, byte] for combo in combos for byte in options]
    return combos


def _size(tails) -> int:
    size = 1
    for options in tails:
        size *= len(options)
    return size


CURSOR_PATTERN = _cursor_pattern()


def _problem_response(status: int, codes: list[str], description: str) -> dict:
    schema = {"allOf": [{"$ref": "#/components/schemas/Problem"},
                        {"type": "object", "properties": {"status": {"type": "integer", "enum": [status]},
                                                          "code": {"type": "string", "enum": codes}}}]}
    response = {"description": f"{description}（code：{'、'.join(codes)}）",
                "content": {PROBLEM: {"schema": schema}}}
    if status == 429:
        response["headers"] = {"Retry-After": {"description": "多少秒后可以重试", "schema": {"type": "integer"}}}
    return response


def _views(app: Flask, prefix: str) -> dict:
    """(OpenAPI path, method) → (operationId, the handler) for every route under the prefix. The id is the method
    and the MethodView's name; a name two blueprints share gets its blueprint's name in front (getRectificationItems
    beside getCatalogItems)."""
    found = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        view_class = getattr(view, "view_class", None)
        if not rule.rule.startswith(prefix) or view_class is None:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found[(path, method.lower())] = (rule.endpoint, view_class.__name__, getattr(view_class, method.lower()))
    names: dict[tuple, set] = {}
    for endpoint, view_name, _ in found.values():
        names.setdefault(view_name, set()).add(endpoint.partition(".")[0])
    ids = {}
    for key, (endpoint, view_name, handler) in found.items():
        blueprint = endpoint.partition(".")[0]
        shared = len(names[view_name]) > 1
        ids[key] = (key[1] + (blueprint.title().replace("_", "") if shared else "") + view_name, handler)
    return ids


def _lost_query_parameters(operation: dict, handler, converter) -> None:
    """Query parameters a view parses (@blp.arguments) that its own @blp.doc(parameters=...) replaced in the
    document (flask-smorest's doc merge replaces the list): put them back, from the same schema."""
    if any(p.get("in") == "query" for p in operation.get("parameters", [])):
        return
    for argument in getattr(handler, "_apidoc", {}).get("arguments", {}).get("parameters", []):
        if argument.get("in") == "query":
            operation.setdefault("parameters", [])[:0] = converter.schema2parameters(argument["schema"],
                                                                                       location="query")


def _body_properties(operation: dict, schemas: dict) -> set[str]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = next(iter(content.values()), {}).get("schema", {})
    ref = schema.get("$ref", "").rpartition("/")[2]
    return set(schemas.get(ref, {}).get("properties", {})) if ref else set()


def _error_codes(path: str, method: str, operation: dict, access: str, schemas: dict,
                 path_parameters: list) -> dict[int, list[str]]:
    parameters = {p["name"] for p in [*path_parameters, *operation.get("parameters", [])]}
    in_path = any(p.get("in") == "path" for p in path_parameters)
    codes: dict[int, list[str]] = {}

    def add(status, *names):
        codes.setdefault(status, [])
        codes[status] += [n for n in names if n not in codes[status]]

    if method in WRITE_METHODS:  # api/hooks.check_body reads every write's body
        add(400, "malformed_json", "unsupported_content_type")
        add(413, "payload_too_large")
    if "cursor" in parameters:
        add(400, "invalid_cursor")
    if "If-Match" in parameters:
        add(400, "invalid_if_match")
    if "Idempotency-Key" in parameters:
        add(400, "invalid_idempotency_key")
    if any("bearerAuth" in alternative for alternative in operation.get("security", [])):
        add(401, "unauthorized", "invalid_token")
    if access in ("supervisor", "admin"):
        add(403, "forbidden")
    if in_path or (access != "public" and ("hall" in parameters or "hall" in _body_properties(operation, schemas))):
        add(404, "not_found")
    add(422, "validation_error")  # unknown query parameters are refused on every route, NUL in any text too
    return codes


def _lost_media_types(operation: dict, handler) -> None:
    """An @blp.alt_response with the success status and another content type (the HTML form of a report) is
    dropped by flask-smorest's merge: add its media type to that response."""
    declared = getattr(handler, "_apidoc", {}).get("response", {}).get("responses", {})
    for status, alternatives in declared.items():
        for alternative in alternatives if isinstance(alternatives, list) else [alternatives]:
            media = alternative.get("content_type") if isinstance(alternative, dict) else None
            response = operation["responses"].get(str(status))
            if media and response is not None and "content" in response:
                response["content"].setdefault(media, {"schema": {"type": "string"}})


def _no_nul_in_text(node) -> None:
    """Every free-text string says it cannot hold NUL (refused with a 422 everywhere, see api/hooks.py), so a
    generator does not send one expecting it to be accepted."""
    if isinstance(node, dict):
        if (node.get("type") == "string" and not {"pattern", "format", "enum"} & set(node)):
            node["pattern"] = NO_NUL_PATTERN
        for value in node.values():
            _no_nul_in_text(value)
    elif isinstance(node, list):
        for value in node:
            _no_nul_in_text(value)


def _nullable_objects(node) -> None:
    """apispec writes a nullable nested schema (OpenAPI 3.0) as anyOf [{type: object, nullable: true}, {$ref}]: its
    first branch admits any object at all. Written as the schema or null instead: {nullable: true, allOf: [{$ref}]}."""
    if isinstance(node, dict):
        branches = node.get("anyOf")
        if isinstance(branches, list) and len(branches) == 2:
            refs = [b for b in branches if set(b) == {"$ref"}]
            loose = [b for b in branches if b == {"type": "object", "nullable": True}]
            if refs and loose:
                del node["anyOf"]
                node.update({"nullable": True, "allOf": refs})
        for value in node.values():
            _nullable_objects(value)
    elif isinstance(node, list):
        for value in node:
            _nullable_objects(value)


def _declare_enums(schemas: dict) -> None:
    for name, schema in schemas.items():
        if name.endswith("Query") or name.endswith("In"):
            continue  # the requests' own validators declare theirs
        for prop, spec in schema.get("properties", {}).items():
            if spec.get("type") != "string" or "enum" in spec:
                continue
            values = ENUMS.get(prop)
            for names, candidates in SCHEMA_ENUMS.get(prop, {}).items():
                if name in names:
                    values = candidates
            if values is not None:
                spec["enum"] = values + [None] if spec.get("nullable") else values


def _problem_schema(doc: dict) -> None:
    problem = doc["components"]["schemas"]["Problem"]
    problem["additionalProperties"] = True
    problem.setdefault("required", ["type", "title", "status", "code", "detail"])
    problem["properties"]["current_version"] = {
        "type": "integer", "description": "412 version_mismatch：事项的当前 version，据此刷新后重试"}
    problem["properties"]["allowed_actions"] = {
        "type": "array", "items": {"type": "string"},
        "description": "409 action_not_allowed：调用者在当前状态下可以执行的操作"}
    doc["components"]["responses"] = {"DEFAULT_ERROR": {
        "description": "其他错误（problem+json）", "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}}


def _parameters(operation: dict, operation_id: str) -> None:
    """The headers the service reads, and the patterns of months and cursors."""
    declared = {p["name"] for p in operation.get("parameters", [])}
    for header in HEADERS.get(operation_id, []):
        if header["name"] in declared:
            current = next(p for p in operation["parameters"] if p["name"] == header["name"])
            current["schema"] = header["schema"]
        else:
            operation.setdefault("parameters", []).append(dict(header))
    for parameter in operation.get("parameters", []):
        if parameter["name"] in ("period", "month") and parameter.get("in") == "query":
            parameter["schema"]["pattern"] = MONTH_PATTERN
        if parameter["name"] == "cursor" and parameter.get("in") == "query":
            parameter["schema"]["pattern"] = CURSOR_PATTERN


def _beyond_schema(response: dict, operation_id: str) -> None:
    """The 422s a request valid by the document can still get (api/contract.BEYOND_SCHEMA): listed in words in the
    description, and for programs as x-rules-beyond-schema (field → rule) under the flag x-refused-beyond-schema."""
    rules = BEYOND_SCHEMA.get(operation_id)
    if not rules:
        return
    listed = "；".join(f"{FIELD_LABELS.get(field, field)}（{field}）：{rule}" for field, rule in rules.items())
    response["description"] += f"。以下规则取决于已存数据、当前时间或几个字段之间的关系，schema 无法表达：{listed}"
    response["x-refused-beyond-schema"] = True
    response["x-rules-beyond-schema"] = dict(rules)


def _responses(operation: dict, operation_id: str, codes: dict) -> None:
    for status, extra in SERVICE_CODES.get(operation_id, {}).items():
        codes[status] = [*codes.get(status, []), *[c for c in extra if c not in codes.get(status, [])]]
    responses = operation["responses"]
    for status in sorted(codes):
        responses[str(status)] = _problem_response(status, codes[status], STATUS_TEXT[status])
    _beyond_schema(responses["422"], operation_id)
    responses["default"] = {"$ref": "#/components/responses/DEFAULT_ERROR"}


def _required_patch_body(operation: dict) -> None:
    """A PATCH that changes nothing is refused (api/hooks.py): the body is required and not empty."""
    body = operation["requestBody"]
    body["required"] = True
    for media in body["content"].values():
        media["schema"] = {"allOf": [media["schema"]], "minProperties": 1}


def complete(spec: dict, app: Flask, prefix: str, converter=None) -> dict:
    """The document flask-smorest built, completed (a new dict; the input is not changed)."""
    doc = copy.deepcopy(spec)
    views = _views(app, prefix)
    schemas = doc["components"]["schemas"]
    _problem_schema(doc)
    _declare_enums(schemas)
    _nullable_objects(doc)
    schemas["SyncIn"]["properties"]["walkthroughs"]["maxItems"] = app.config["SYNC_MAX_BATCH"]
    for path, item in doc["paths"].items():
        path_parameters = item.get("parameters", [])
        for method, operation in item.items():
            if method == "parameters":
                continue
            operation_id, handler = views[(path, method)]
            access = getattr(handler, "_access", "public")
            operation["operationId"] = operation_id
            if operation_id in EXAMPLES and "requestBody" in operation:
                operation["requestBody"]["content"]["application/json"]["example"] = EXAMPLES[operation_id]
            if converter is not None:
                _lost_query_parameters(operation, handler, converter)
            _lost_media_types(operation, handler)
            summary = operation.get("summary") or operation_id
            operation["description"] = operation.get("description") or f"{summary}。{ROLE_LABELS[access]}。"
            _parameters(operation, operation_id)
            codes = _error_codes(path, method, operation, access, schemas, path_parameters)  # reads the body as built
            if method == "patch" and "requestBody" in operation:
                _required_patch_body(operation)
            _responses(operation, operation_id, codes)
            _no_nul_in_text(operation.get("parameters", []))
    _no_nul_in_text(schemas)
    return doc


def install(api, app: Flask, prefix: str) -> None:
    """Complete the document once, after every blueprint is registered; every reader (openapi.json, the docs page,
    `flask openapi print`) goes through api.spec.to_dict()."""
    plugin = next(p for p in api.spec.plugins if isinstance(p, MarshmallowPlugin))
    doc = complete(api.spec.to_dict(), app, prefix, plugin.converter)
    api.spec.to_dict = lambda: doc


# ---- the browsable UI ------------------------------------------------------------------------------------------
def configure_docs(app: Flask) -> None:
    """Swagger UI at {prefix}/docs, its scripts and styles served by the app from the swagger-ui-bundle package
    (no CDN: the page works where the service works). Called before flask-smorest's Api reads the config."""
    prefix = app.config["OPENAPI_URL_PREFIX"].rstrip("/")
    assets = f"{prefix}/docs/assets"
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", f"{assets}/")
    blueprint = Blueprint("api-docs-assets", __name__, url_prefix=assets)

    @blueprint.route("/<path:filename>")
    def asset(filename):
        return send_from_directory(Path(swagger_ui_path), filename, max_age=86400)

    app.register_blueprint(blueprint)
