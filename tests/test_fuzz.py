"""Property-based fuzzing of every operation in the published OpenAPI document (CI-sized; bench/fuzz runs longer).

Whatever schemathesis generates, the service answers without a 5xx, every error is problem+json, and every
answer conforms to the documented schema.
"""
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
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
