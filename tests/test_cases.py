"""Cases (办件): staff register finished cases and get a single-use rating token, idempotently."""
from datetime import UTC, datetime, timedelta

from tests.helpers import API, assert_problem, register_case


def test_register_returns_token_and_rating_deadline(client, tokens):
    completed = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    case = register_case(client, tokens["staff"], window="04", staff_no="S007",
                         completed_at=completed.isoformat())
    assert len(case["rating_token"]) >= 20
    assert datetime.fromisoformat(case["rate_before"]) == completed + timedelta(days=7)
    assert case["rate_before"].endswith("+08:00")


def test_repeat_is_idempotent_and_a_changed_repeat_conflicts(client, tokens):
    case = register_case(client, tokens["staff"])
    again = client.post(f"{API}/cases", json=case["request"], headers=tokens["staff"])
    assert again.status_code == 200 and again.get_json()["rating_token"] == case["rating_token"]
    changed = {**case["request"], "item": "SB-002"}
    assert_problem(client.post(f"{API}/cases", json=changed, headers=tokens["staff"]), 409, "case_conflict")


def test_same_case_number_in_another_hall_is_another_case(client, tokens):
    case = register_case(client, tokens["staff"])
    other = client.post(f"{API}/cases", json={**case["request"], "hall": "HZ-XC-HB"}, headers=tokens["staff_b"])
    assert other.status_code == 201 and other.get_json()["rating_token"] != case["rating_token"]


def test_scope_and_validation(client, tokens):
    body = {"case_no": "X1", "hall": "HZ-XC", "item": "SB-001"}
    assert_problem(client.post(f"{API}/cases", json=body), 401)
    assert_problem(client.post(f"{API}/cases", json=body, headers=tokens["staff_b"]), 404, "not_found")
    assert_problem(client.post(f"{API}/cases", json=body, headers=tokens["supervisor_jn"]), 404)
    # A supervisor of the district may register for a street hall under it.
    assert client.post(f"{API}/cases", json={**body, "hall": "HZ-XC-JN"}, headers=tokens["supervisor"]) \
        .status_code == 201
    problem = assert_problem(client.post(f"{API}/cases", json={**body, "item": "GA-003", "hall": "HZ-XC-JN"},
                                         headers=tokens["staff_jn"]), 422)
    assert "item" in problem["errors"]
    problem = assert_problem(client.post(f"{API}/cases", json={**body, "window": "99"}, headers=tokens["staff"]), 422)
    assert "window" in problem["errors"]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    problem = assert_problem(client.post(f"{API}/cases", json={**body, "completed_at": future},
                                         headers=tokens["staff"]), 422)
    assert "completed_at" in problem["errors"]
    problem = assert_problem(client.post(f"{API}/cases", json={**body, "completed_at": "2026-11-20T10:00:00"},
                                         headers=tokens["staff"]), 422)
    assert "completed_at" in problem["errors"]
