"""Small helpers shared by the HTTP tests."""
import itertools

API = "/api/v1"
_case_numbers = itertools.count(1)


def assert_problem(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["detail"] and any("\u4e00" <= ch <= "\u9fff" for ch in body["detail"]), body["detail"]
    if code:
        assert body["code"] == code, body
    return body


def register_case(client, headers, hall="HZ-XC", item="SB-001", **extra) -> dict:
    body = {"case_no": f"BJ{next(_case_numbers):08d}", "hall": hall, "item": item, **extra}
    response = client.post(f"{API}/cases", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return {**response.get_json(), "request": body}
