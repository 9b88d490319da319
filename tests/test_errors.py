"""Every error is problem+json with a stable code and a Chinese detail; the OpenAPI document covers every route."""
import re

from tests.helpers import API, assert_problem


def test_malformed_json_and_wrong_content_type(client, demo):
    response = client.post(f"{API}/ratings", data='{"score": 5,', content_type="application/json")
    assert_problem(response, 400, "malformed_json")
    response = client.post(f"{API}/ratings", data="score=5", content_type="application/x-www-form-urlencoded")
    assert_problem(response, 400, "unsupported_content_type")
    response = client.post(f"{API}/ratings", data=b'{"score": "\xff"}', content_type="application/json")
    assert_problem(response, 400, "malformed_json")


def test_unknown_fields_and_non_object_bodies(client, demo):
    body = assert_problem(client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": 5, "channel": "web",
                                                              "stars": 5}), 422, "validation_error")
    assert body["errors"] == {"stars": ["不支持的字段"]}
    body = assert_problem(client.post(f"{API}/ratings", json=[1, 2]), 422, "validation_error")
    assert "body" in body["errors"]


def test_oversize_body_is_413(client, demo):
    response = client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": 5, "channel": "web",
                                                   "comment": "很" * 40000})
    assert_problem(response, 413, "payload_too_large")


def test_unknown_route_and_method(client):
    assert_problem(client.get(f"{API}/nothing-here"), 404, "not_found")
    response = client.delete(f"{API}/halls")
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_bad_cursor(client, tokens):
    assert_problem(client.get(f"{API}/ratings", query_string={"cursor": "@@@"}, headers=tokens["staff"]), 400,
                   "invalid_cursor")
    assert_problem(client.get(f"{API}/ratings", query_string={"limit": 500}, headers=tokens["staff"]), 422)


def test_chinese_is_sent_as_characters(client, demo):
    raw = client.get(f"{API}/halls/HZ-XC").get_data()
    assert "西城区".encode() in raw and b"\\u" not in raw


def test_openapi_document_describes_every_route(app, client):
    spec = client.get(f"{API}/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops
                  if method in ("get", "post", "patch", "put", "delete")}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API) or rule.endpoint.startswith("api-docs"):  # the document and its UI
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} is missing from openapi.json"
    assert "bearerAuth" in spec["components"]["securitySchemes"]


def test_every_view_declares_who_may_call_it(app):
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith("api-docs") or not hasattr(view, "view_class"):
            continue
        for method in view.view_class.methods:
            handler = getattr(view.view_class, method.lower())
            assert getattr(handler, "_access", None), f"{endpoint}.{method} has no @public/@requires"


def test_security_headers(client):
    response = client.get(f"{API}/halls")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_nul_characters_are_refused_on_every_database(client, tokens):
    response = client.post(f"{API}/tags", json={"code": "X", "label": "a\u0000b", "applies_to": "any"},
                           headers=tokens["admin"])
    assert_problem(response, 422, "validation_error")
    assert_problem(client.get(f"{API}/items", query_string={"q": "社\u0000保"}), 422, "validation_error")
    assert client.get(f"{API}/tags").get_json()["items"] and all(
        t["code"] != "X" for t in client.get(f"{API}/tags").get_json()["items"])


def test_authentication_comes_before_body_validation(client, demo):
    # An anonymous caller learns nothing about a protected route's body rules.
    assert_problem(client.post(f"{API}/halls", json={"bogus": 1}), 401, "unauthorized")
    assert_problem(client.post(f"{API}/cases", json={}), 401, "unauthorized")


def test_unknown_query_parameters_are_refused(client, tokens):
    # A typo must not silently widen a scoped query to every hall the caller sees.
    body = assert_problem(client.get(f"{API}/ratings", query_string={"hal": "HZ-XC"}, headers=tokens["staff"]), 422)
    assert body["errors"] == {"hal": ["不支持的字段"]}
    assert_problem(client.get(f"{API}/rectifications", query_string={"stauts": "open"}, headers=tokens["staff"]),
                   422)
    # Routes without any query parameter refuse them all, writes included, and store nothing.
    body = assert_problem(client.get(f"{API}/halls", query_string={"level": "street"}), 422)
    assert body["errors"] == {"level": ["不支持的字段"]}
    rating = {"hall": "HZ-XC", "score": 5, "channel": "web"}
    assert_problem(client.post(f"{API}/ratings", query_string={"hall": "HZ-XC"}, json=rating), 422)
    assert client.get(f"{API}/ratings", headers=tokens["staff"]).get_json()["items"] == []
