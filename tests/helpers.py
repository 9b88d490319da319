"""Small helpers shared by the HTTP tests."""
import itertools
import re

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


# What a person may read in an error (`detail`, and every message under `errors`): Chinese, numbers, and the values
# the request itself sent (an unknown code is quoted back as sent). The only ASCII words allowed besides are these
# protocol names, which have no Chinese name in use and occur only in answers to a program's own mistakes (a header
# it set, the body's media type and encoding): a citizen's app never makes them.
PROTOCOL_WORDS = ("If-Match", "Idempotency-Key", "Content-Type", "Authorization", "Bearer", "application/json",
                  "JSON", "UTF-8")
_ASCII_WORD = re.compile(r"[A-Za-z]{2,}")


def request_strings(value) -> list[str]:
    """Every string value of a request's parts (query, body, path): what an answer may quote back. Keys are not
    included: a field's code is never to be named in a message."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in request_strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in request_strings(v)]
    return [str(value)] if value is not None and not isinstance(value, bool) else []


def messages_of(problem: dict) -> list[str]:
    """`detail` and every message under `errors` (the field names are its keys, for programs)."""
    found = [problem.get("detail") or ""]

    def walk(node):
        if isinstance(node, dict):
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, str):
            found.append(node)

    walk(problem.get("errors"))
    return found


def foreign_words(text: str, echoed=()) -> list[str]:
    """The ASCII words of a message meant for a person, beyond the request's own values and PROTOCOL_WORDS."""
    for word in PROTOCOL_WORDS:  # first: a one-letter value quoted back ("N") must not cut "JSON" into "JSO"
        text = text.replace(word, " ")
    for value in sorted({v for v in echoed if v}, key=len, reverse=True):
        text = text.replace(value, " ")
    return _ASCII_WORD.findall(text)
