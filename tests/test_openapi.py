"""The OpenAPI document is a contract a client can generate code from: valid, every operation named and described,
every error it can answer declared as problem+json with its codes, headers and value formats declared; and it is
browsable at /api/v1/docs from assets the app serves itself."""
import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from api.contract import BEYOND_SCHEMA
from api.openapi import CURSOR_PATTERN
from service.delivery import RECEIVER_URL_PATTERN, receiver_url_problem
from service.pagination import decode_cursor, encode_cursor
from tests.helpers import API, assert_problem

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def spec(client):
    return client.get(f"{API}/openapi.json").get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation, [*item.get("parameters", []), *operation.get("parameters", [])]


def codes_of(response: dict) -> list[str]:
    schema = response["content"]["application/problem+json"]["schema"]
    return next(part["properties"]["code"]["enum"] for part in schema["allOf"] if "properties" in part)


def test_the_document_is_valid_openapi(spec):
    validate(spec)


def test_every_operation_has_a_stable_unique_id_and_a_description(spec, app):
    ids = [operation["operationId"] for _, _, operation, _ in operations(spec)]
    assert len(ids) == len(set(ids)) and len(ids) >= 30
    assert {"getHalls", "postRatings", "postItemActions", "getRectificationItems", "getCatalogItems"} <= set(ids)
    assert all(operation["description"] for _, _, operation, _ in operations(spec))
    # Built once with the app: two reads give the very same document.
    assert app.extensions["feedback_api"].spec.to_dict() is app.extensions["feedback_api"].spec.to_dict()


def test_every_error_is_declared_as_problem_json(spec):
    for path, method, operation, _ in operations(spec):
        for status, response in operation["responses"].items():
            if status == "default" or int(status) >= 400:
                response = spec["components"]["responses"]["DEFAULT_ERROR"] if "$ref" in response else response
                assert list(response["content"]) == ["application/problem+json"], (method, path, status)


def test_error_statuses_and_codes_follow_what_each_route_does(spec):
    for path, method, operation, parameters in operations(spec):
        responses, where = operation["responses"], (method, path)
        assert "validation_error" in codes_of(responses["422"]), where
        if any("bearerAuth" in alternative for alternative in operation.get("security", [])):
            assert codes_of(responses["401"]) == ["unauthorized", "invalid_token"], where
        if any(p["in"] == "path" for p in parameters):
            assert "not_found" in codes_of(responses["404"]), where
        if method in ("post", "patch"):
            assert {"malformed_json", "unsupported_content_type"} <= set(codes_of(responses["400"])), where
            assert codes_of(responses["413"]) == ["payload_too_large"], where
        if any(p["name"] == "cursor" for p in parameters):
            assert "invalid_cursor" in codes_of(responses["400"]), where
    by_id = {operation["operationId"]: operation for _, _, operation, _ in operations(spec)}
    actions = by_id["postItemActions"]["responses"]
    assert codes_of(actions["412"]) == ["version_mismatch"] and "action_not_allowed" in codes_of(actions["409"])
    assert codes_of(actions["403"]) == ["forbidden"] and "invalid_if_match" in codes_of(actions["400"])
    assert codes_of(by_id["getJobRuns"]["responses"]["403"]) == ["forbidden"]
    assert "Retry-After" in by_id["postRatings"]["responses"]["429"]["headers"]
    assert {"already_rated", "rating_window_closed"} <= set(codes_of(by_id["postRatings"]["responses"]["409"]))


def test_every_code_the_service_raises_is_in_the_document(spec):
    declared = set(re.findall(r'"code": \{"type": "string", "enum": \[([^\]]*)\]', str(spec).replace("'", '"')))
    declared = {code.strip(' "') for group in declared for code in group.split(",")}
    raised = set()
    for source in [*(ROOT / "service").glob("*.py"), *(ROOT / "api").glob("*.py")]:
        raised |= set(re.findall(r'code="([a-z_]+)"', source.read_text()))
    assert raised <= declared, raised - declared


def test_problem_allows_extension_members(spec):
    problem = spec["components"]["schemas"]["Problem"]
    assert problem["additionalProperties"] is True
    assert {"current_version", "allowed_actions", "errors", "code", "detail"} <= set(problem["properties"])


def test_headers_and_value_formats_are_declared(spec):
    by_id = {operation["operationId"]: (operation, parameters) for _, _, operation, parameters in operations(spec)}
    names = {p["name"]: p for p in by_id["postRatings"][1]}
    assert names["Idempotency-Key"]["in"] == "header" and names["X-Client-Id"]["in"] == "header"
    assert {p["name"] for p in by_id["postItemActions"][1]} >= {"If-Match", "item_id"}
    period = next(p for p in by_id["getRankings"][1] if p["name"] == "period")
    assert re.fullmatch(period["schema"]["pattern"].strip("^$"), "2026-10")
    assert not re.fullmatch(period["schema"]["pattern"].strip("^$"), "0000-01")
    dates = next(p for p in by_id["getStats"][1] if p["name"] == "from")
    assert dates["schema"]["format"] == "date" and dates["schema"]["pattern"].startswith("^20")
    # Free text cannot hold NUL (a 422 everywhere), and the document says so.
    hall = next(p for p in by_id["getRatings"][1] if p["name"] == "hall")
    assert hall["schema"]["pattern"] == r"^[^\x00]*$"
    assert spec["components"]["schemas"]["RatingIn"]["properties"]["comment"]["pattern"] == r"^[^\x00]*$"
    # The report's HTML form is declared beside its JSON.
    assert set(by_id["getMonthlyReport"][0]["responses"]["200"]["content"]) == {"application/json", "text/html"}
    # The rectification poll's filters are documented although its view declares a header parameter of its own.
    assert {"hall", "updated_since", "cursor", "If-None-Match"} <= {p["name"] for p in by_id["getRectificationItems"][1]}


# Row ids start at 1 (service.pagination refuses a cursor of 0), so the server never issues one.
@pytest.mark.parametrize("last_id", [1, 9, 10, 99, 100, 12345, 999999, 10**12 + 7, 10**17, 10**18 - 1])
def test_the_cursor_pattern_matches_every_cursor_the_server_issues(last_id):
    assert re.fullmatch(CURSOR_PATTERN, encode_cursor(last_id))


@settings(max_examples=300, deadline=None, database=None)
@given(st.from_regex(CURSOR_PATTERN, fullmatch=True))
def test_every_cursor_the_pattern_admits_is_one_the_server_accepts(cursor):
    assert (decode_cursor(cursor) is None) if cursor == "" else encode_cursor(decode_cursor(cursor)) == cursor


def test_a_patch_must_change_something(client, tokens, spec):
    for path in ("/halls/HZ-XC", "/tags/EFFICIENT"):
        body = assert_problem(client.patch(f"{API}{path}", headers=tokens["admin"]), 422, "validation_error")
        assert body["errors"] == {"body": ["请求体不能为空，请至少提供一个要修改的字段"]}
        assert_problem(client.patch(f"{API}{path}", json={}, headers=tokens["admin"]), 422, "validation_error")
    # The token comes first, as for any body rule: anonymous is 401, staff is 403.
    assert_problem(client.patch(f"{API}/halls/HZ-XC"), 401, "unauthorized")
    assert_problem(client.patch(f"{API}/halls/HZ-XC", headers=tokens["staff"]), 403, "forbidden")
    # A method the route does not have stays a 405, body or not.
    assert_problem(client.patch(f"{API}/health", headers=tokens["admin"]), 405, "method_not_allowed")
    assert_problem(client.patch(f"{API}/health", data="[[[", content_type="application/json"), 405)
    body = spec["paths"]["/api/v1/halls/{code}"]["patch"]["requestBody"]
    assert body["required"] is True and body["content"]["application/json"]["schema"]["minProperties"] == 1


def test_docs_page_is_served_with_its_own_assets(client):
    response = client.get(f"{API}/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert not re.search(r"(https?:)?//(?!127\.0\.0\.1|localhost)", page.replace("//-->", "")), page
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(assets) >= 3
    for asset in assets:
        assert asset.startswith(f"{API}/docs/assets/")
        served = client.get(asset)
        assert served.status_code == 200 and len(served.get_data()) > 1000, asset
    assert f"{API}/openapi.json" in page


def test_the_request_examples_are_bodies_the_routes_take(spec):
    """The examples a client author copies first are valid for the schemas the routes load them with."""
    from api.contract import EXAMPLES
    from api.schemas.ratings import CaseIn, RatingIn
    from api.schemas.rectification import ActionIn
    from api.schemas.walkthroughs import WalkthroughIn

    loaders = {"postRatings": RatingIn(), "postCases": CaseIn(), "postItemActions": ActionIn(),
               "postWalkthroughs": WalkthroughIn()}
    assert set(EXAMPLES) == set(loaders)
    shown = {o["operationId"]: o for item in spec["paths"].values() for o in item.values()
             if isinstance(o, dict) and "operationId" in o}
    for operation_id, loader in loaders.items():
        assert shown[operation_id]["requestBody"]["content"]["application/json"]["example"] == EXAMPLES[operation_id]
        loader.load(EXAMPLES[operation_id])  # raises if the example would be refused


# ---- the document and the service agree: what the document admits is taken, what it excludes is refused ----------
def _pattern(spec, schema: str, prop: str) -> str:
    return spec["components"]["schemas"][schema]["properties"][prop]["pattern"]


def test_the_receiver_url_rule_is_declared(client, tokens, spec):
    for schema in ("SubscriptionIn", "SubscriptionPatch"):
        assert _pattern(spec, schema, "url") == RECEIVER_URL_PATTERN
    body = {"name": "部门系统", "events": ["rating.bad"], "format": "webhook"}
    for url in ("", "ftp://example.org/hook", "http://", "http://exa mple.org/", "https://-bad.example/",
                "http://example.org:0/", "http://example.org:65536/", "example.org/hook"):
        assert not re.fullmatch(RECEIVER_URL_PATTERN, url), url
        problem = assert_problem(client.post(f"{API}/subscriptions", json={**body, "url": url},
                                             headers=tokens["admin"]), 422, "validation_error")
        assert list(problem["errors"]) == ["url"]
    for url in ("http://127.0.0.1:8080/hook", "https://gov.example.cn/api/events?k=1", "http://receiver"):
        made = client.post(f"{API}/subscriptions", json={**body, "url": url}, headers=tokens["admin"])
        assert made.status_code == 201, made.get_json()


@settings(max_examples=200, deadline=None, database=None)
@given(st.from_regex(RECEIVER_URL_PATTERN, fullmatch=True).filter(lambda url: len(url) <= 500))
def test_every_receiver_url_the_pattern_admits_is_taken(url):
    assert receiver_url_problem(url) is None


def _walk(node, path=()):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, index))


def test_a_nullable_object_is_its_schema_or_null_never_any_object(spec):
    """A nullable nested schema was written as anyOf [any object, the schema]: any object fitted, so a generator sent
    `citizen: {"x": 1}` as valid and the service refused it."""
    for path, node in _walk(spec):
        for branch in node.get("anyOf", []):
            assert not (branch.get("type") == "object" and "properties" not in branch and "$ref" not in branch
                        and "additionalProperties" not in branch), path
    citizen = spec["components"]["schemas"]["WalkthroughIn"]["properties"]["citizen"]
    assert citizen == {"nullable": True, "allOf": [{"$ref": "#/components/schemas/CitizenIn"}]}


def test_a_sync_batch_takes_any_records_and_declares_its_size(spec, app):
    """Each record is validated on its own (a bad one comes back `rejected`, the others are stored, 200), so the batch
    takes any JSON values; the record's own shape is WalkthroughIn, offered first. The batch size is declared."""
    batch = spec["components"]["schemas"]["SyncIn"]["properties"]["walkthroughs"]
    assert batch["maxItems"] == app.config["SYNC_MAX_BATCH"]
    assert batch["items"]["anyOf"][0] == {"$ref": "#/components/schemas/WalkthroughIn"}
    assert set(batch["items"]["anyOf"][1]) <= {"description"}


def test_the_rectification_poll_declares_exactly_its_filters(spec):
    poll = spec["paths"]["/api/v1/rectifications"]["get"]
    assert {p["name"] for p in poll["parameters"]} == {"hall", "list", "status", "overdue", "source", "updated_since",
                                                        "cursor", "limit", "If-None-Match"}


def test_refusals_beyond_the_schema_are_declared_on_real_fields(spec):
    """Each rule the schema cannot state names a field the operation really takes (a parameter or a body property),
    is listed in the 422's description, and is flagged for the schemathesis run (schemathesis.toml)."""
    schemas = spec["components"]["schemas"]
    flagged = set()
    for _, _, operation, parameters in operations(spec):
        response = operation["responses"]["422"]
        if not response.get("x-refused-beyond-schema"):
            assert "x-rules-beyond-schema" not in response
            continue
        flagged.add(operation["operationId"])
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        ref = (body.get("$ref") or next((part["$ref"] for part in body.get("allOf", []) if "$ref" in part), ""))
        taken = {p["name"] for p in parameters} | set(schemas.get(ref.rpartition("/")[2], {}).get("properties", {}))
        rules = response["x-rules-beyond-schema"]
        assert rules and set(rules) <= taken, (operation["operationId"], set(rules) - taken)
        assert all(f"（{field}）：{rule}" in response["description"] for field, rule in rules.items())
    assert flagged == set(BEYOND_SCHEMA)


def test_the_schemathesis_run_accepts_those_422s_by_the_flag_alone():
    config = tomllib.loads((ROOT / "schemathesis.toml").read_text())
    assert config["hooks"] == "tests.contract_checks"
    [rule] = config["operations"]
    assert rule["include-by"] == "/responses/422/x-refused-beyond-schema == true"
    statuses = rule["checks"]["positive_data_acceptance"]["expected-statuses"]
    # schemathesis's own, with 422 (the declared rules) and 412 (an If-Match naming another version than the stored)
    assert statuses == ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429", "5xx"]


@pytest.mark.parametrize("schema, prop", [("AccountIn", "name"), ("ObserverIn", "name"), ("FindingIn", "description")])
def test_text_that_must_not_be_blank_says_so(spec, schema, prop):
    """The service refuses a name or description of spaces only (str.strip()); the pattern says the same, and
    Python's \\s is exactly what str.strip() removes, so a generator reading it agrees with the service."""
    pattern = _pattern(spec, schema, prop)
    for blank in (" ", "\u3000", "\x85", "\t\n"):
        assert not re.fullmatch(pattern, blank) and not blank.strip()
    for text in ("张三", " 张三 ", "a"):
        assert re.fullmatch(pattern, text)
    assert not re.fullmatch(pattern, "张\x00三")
