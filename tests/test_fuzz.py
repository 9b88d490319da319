"""The contract, fuzzed: schemathesis with every check, as a client author runs it, and hypothesis beside it.

The first test is bench/fuzz with a few examples per operation: gunicorn on a fresh database (SQLite, or PostgreSQL
with TEST_DATABASE_URL) with the demo catalog and seeded records, and `schemathesis run …/openapi.json --checks all`
from the repository root, so schemathesis.toml and tests/contract_checks.py apply. Whatever it generates, nothing
may fail: no 5xx, every answer as documented (status, content type, schema, headers), every request valid by the
document accepted unless refused for a rule the document declares, every invalid one refused, every error text
Chinese. Beside it, hypothesis sends what schemathesis would not: lone surrogates, NUL, deep nesting and dates from
year 1 to 9999, in bodies and queries.
"""
import json
import os
import re
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import fresh_database
from tests.helpers import foreign_words, messages_of, request_strings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = os.environ.get("FUZZ_EXAMPLES", "8")
SEED = os.environ.get("FUZZ_SEED", "20261201")  # a fixed run in the suite; bench/fuzz draws a new seed each time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_client_authors_run_with_every_check_finds_nothing(tmp_path):
    with fresh_database(tmp_path / "fuzz.db", "hf_fuzz") as url:
        run = subprocess.run([sys.executable, "bench/fuzz.py", "--database-url", url, "--port", str(_free_port()),
                              "--max-examples", EXAMPLES, "--seed", SEED], cwd=ROOT, capture_output=True, text=True,
                             timeout=1200)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-6000:]
    # It really ran: every operation, thousands of requests, the run's token valid to the end.
    assert re.search(r"Tested: 50\b", report) or "Operations:       50 selected / 50 total" in report, report[-3000:]
    generated = int(re.search(r"(\d+) generated, \1 passed", report).group(1))
    assert generated >= 1500, report[-3000:]
    assert "Authentication failed" not in report, report[-3000:]


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


def _strings_of(raw: str) -> list[str]:
    try:
        return request_strings(json.loads(raw))
    except (ValueError, RecursionError):
        return []


def _assert_refused_well(response, *sent):
    echoed = request_strings(list(sent))
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
        body = response.get_json()
        assert body["code"] and body["status"] == response.status_code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in body["detail"]), body
        assert not any(foreign_words(message, echoed) for message in messages_of(body)), body


def test_hostile_bodies_and_dates_never_reach_a_500(app, tokens):
    client = app.test_client()

    @given(path=st.sampled_from(WRITES), raw=hostile_bodies)
    @settings(max_examples=HOSTILE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True, database=None)
    def write(path, raw):
        method = client.patch if path.startswith("/halls/") else client.post
        _assert_refused_well(method(f"/api/v1{path}", data=raw, content_type="application/json",
                                    headers=tokens["admin"]), _strings_of(raw))

    @given(path=st.sampled_from(["/ratings", "/stats", "/stats/tags", "/walkthroughs"]), start=extreme_dates,
           end=extreme_dates, since=extreme_times, month=st.builds(lambda d: d.isoformat()[:7], extreme_dates))
    @settings(max_examples=HOSTILE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True, database=None)
    def query(path, start, end, since, month):
        headers = tokens["admin"]
        dates = {"from": start.isoformat(), "to": end.isoformat()}
        _assert_refused_well(client.get(f"/api/v1{path}", query_string=dates, headers=headers), dates)
        _assert_refused_well(client.get("/api/v1/rectifications", query_string={"updated_since": since},
                                        headers=headers), since)
        _assert_refused_well(client.get("/api/v1/rankings", query_string={"period": month}, headers=headers), month)
        _assert_refused_well(client.get("/api/v1/reports/monthly", query_string={"month": month}, headers=headers),
                             month)

    write()
    query()
