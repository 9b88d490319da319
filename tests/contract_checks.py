"""What the schemathesis run checks beyond its own checks, and how it keeps its own credentials.

Loaded by schemathesis through `hooks` in schemathesis.toml (the CLI run from the repository root: tests/test_fuzz.py,
bench/fuzz, or a client author's own `schemathesis run …/openapi.json --checks all`):

- `problem_texts_are_chinese`: every message a person may read (a problem's `detail` and the messages under
  `errors`, and a sync result's `errors`) is Chinese, as tests/test_error_texts.py requires of its own requests.
- `refusals_beyond_the_schema_are_declared`: a request valid by the document may still be a 422, for a rule the
  document cannot state (stored data, the clock, two fields together), only where the operation declares that
  rule (its 422's `x-rules-beyond-schema`), and only on the fields it names.
- The run's own account is never rotated (FUZZ_OWN_ACCOUNT_ID): the new token would end the run's authentication,
  and every later request would be a 401 telling nothing.
"""
import os

import schemathesis

from tests.helpers import foreign_words, messages_of, request_strings


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None


def _content_type(response) -> str:
    headers = {k.lower(): v for k, v in response.headers.items()}
    value = headers.get("content-type", "")
    return (value[0] if isinstance(value, list) else value).split(";")[0].strip()


def _request_values(case) -> list[str]:
    return request_strings([case.query, case.body, case.path_parameters])


@schemathesis.check
def problem_texts_are_chinese(ctx, response, case):
    body = _json(response)
    if not isinstance(body, dict):
        return None
    problems = [body] if _content_type(response) == "application/problem+json" else []
    if isinstance(body.get("results"), list):  # POST /sync: each rejected record's errors
        problems += [{"errors": r.get("errors")} for r in body["results"] if isinstance(r, dict)]
    echoed = _request_values(case)
    for problem in problems:
        for message in messages_of(problem):
            words = foreign_words(message, echoed)
            if words:
                raise AssertionError(f"English in a message a person reads: {message!r} ({', '.join(words)})")
    return None


@schemathesis.check
def refusals_beyond_the_schema_are_declared(ctx, response, case):
    meta = case.meta
    if response.status_code != 422 or meta is None or not meta.generation.mode.is_positive:
        return None
    response_422 = case.operation.definition.raw.get("responses", {}).get("422", {})
    declared = response_422.get("x-rules-beyond-schema", {})
    body = _json(response) or {}
    fields = set(body.get("errors") or {}) if isinstance(body, dict) else set()
    undeclared = fields - set(declared) if fields else {"(no errors)"}
    if undeclared:
        raise AssertionError(f"A request valid by the document was refused on {', '.join(sorted(undeclared))}, which "
                             f"the operation declares no rule for: {body.get('detail')}")
    return None


@schemathesis.hook
def before_call(context, case, kwargs):
    own = os.environ.get("FUZZ_OWN_ACCOUNT_ID")
    if own and case.path.endswith("/rotate") and str((case.path_parameters or {}).get("account_id")) == own:
        case.path_parameters = {**case.path_parameters, "account_id": 0}  # no account has id 0: a plain 404
