"""Property-based fuzzing of every operation in the published OpenAPI document (CI-sized; bench/fuzz runs longer).

Whatever schemathesis generates, the service answers without a 5xx, every error is problem+json, and every
answer conforms to the documented schema. Beside it, hypothesis sends what schemathesis would not: lone surrogates,
NUL, deep nesting and dates from year 1 to 9999, in bodies and queries.
"""
import json
import os
from datetime import date

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def _exercise(operation, headers, statuses: list):
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def run(case):
        case.headers = {**(case.headers or {}), **headers}
        response = case.call()
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)
        if response.status_code >= 400:
            content_type = {k.lower(): v for k, v in response.headers.items()}["content-type"]
            content_type = content_type[0] if isinstance(content_type, list) else content_type
            assert content_type.startswith("application/problem+json"), response.text
            body = response.json()
            assert body["code"] and body["detail"] and body["status"] == response.status_code

    run()


@pytest.mark.slow
def test_every_operation_survives_generated_input(app, tokens):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    statuses: list[int] = []
    for operation in operations:
        try:
            _exercise(operation, tokens["admin"], statuses)
        except Exception as exc:
            raise AssertionError(f"{operation.method.upper()} {operation.path}: {exc}") from exc
    # The run really reached the handlers: many calls, and generated input that was accepted as well as refused.
    assert len(statuses) >= 3 * len(operations)
    assert any(200 <= s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)


# ---- hostile bodies and queries (hypothesis, beside schemathesis: it would not send these) -----------------------
HOSTILE_EXAMPLES = int(os.environ.get("FUZZ_HOSTILE_EXAMPLES", "40"))
surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
hostile_text = st.text(st.one_of(st.characters(), surrogates, st.just("\x00")), max_size=8)
extreme_dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
extreme_times = st.builds(lambda d, h: f"{d.isoformat()}T{h:02d}:00:00+14:00", extreme_dates, st.integers(0, 23))
json_values = st.recursive(st.none() | st.booleans() | st.integers() | hostile_text | extreme_times,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
                           max_leaves=10)
WRITES = ["/cases", "/walkthroughs", "/sync", "/ratings", "/rectifications/1/actions", "/halls/HZ-XC", "/tags"]
FIELDS = ["case_no", "hall", "item", "completed_at", "started_at", "summary", "comment", "note", "walkthroughs",
          "findings", "action", "score", "channel"]


def _nested(depth: int, kind: str) -> str:
    return ("[" * depth + "]" * depth) if kind == "array" else ('{"a":' * depth + "1" + "}" * depth)


hostile_bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS) | hostile_text, json_values, max_size=5).map(json.dumps),
    st.builds(_nested, st.integers(25, 20000), st.sampled_from(["array", "object"])),
    st.builds(lambda depth: "[" * depth, st.integers(1, 60000)),
)


def _assert_refused_well(response):
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
        body = response.get_json()
        assert body["code"] and body["status"] == response.status_code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in body["detail"]), body


def test_hostile_bodies_and_dates_never_reach_a_500(app, tokens):
    client = app.test_client()

    @given(path=st.sampled_from(WRITES), raw=hostile_bodies)
    @settings(max_examples=HOSTILE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True, database=None)
    def write(path, raw):
        method = client.patch if path.startswith("/halls/") else client.post
        _assert_refused_well(method(f"/api/v1{path}", data=raw, content_type="application/json",
                                    headers=tokens["admin"]))

    @given(path=st.sampled_from(["/ratings", "/stats", "/stats/tags", "/walkthroughs"]), start=extreme_dates,
           end=extreme_dates, since=extreme_times, month=st.builds(lambda d: d.isoformat()[:7], extreme_dates))
    @settings(max_examples=HOSTILE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True, database=None)
    def query(path, start, end, since, month):
        headers = tokens["admin"]
        _assert_refused_well(client.get(f"/api/v1{path}", query_string={"from": start.isoformat(),
                                                                        "to": end.isoformat()}, headers=headers))
        _assert_refused_well(client.get("/api/v1/rectifications", query_string={"updated_since": since},
                                        headers=headers))
        _assert_refused_well(client.get("/api/v1/rankings", query_string={"period": month}, headers=headers))
        _assert_refused_well(client.get("/api/v1/reports/monthly", query_string={"month": month}, headers=headers))

    write()
    query()
