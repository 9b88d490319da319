"""The supervisors' 304 fast path of GET /rectifications: the same tag, the same refusals, the same headers as the full
path, a deactivated token refused at once, and POLL_FAST_PATH=0 leaving every poll to Flask."""
from datetime import timedelta

import pytest
from sqlalchemy import update

from models import Account, db
from service import calendar_admin
from service import rectification_polling as rectification
from service.auth import authenticate
from service.security import hash_token
from service.timeutil import local_date, now
from tests.helpers import API, assert_problem
from tests.rect_helpers import make_rating, run

URL = f"{API}/rectifications"


@pytest.fixture
def items(app, tokens):
    calendar_admin.import_package()
    for hall in ("HZ-XC", "HZ-XC", "HZ-XC-HB", "HZ-XC-JN"):
        make_rating(hall=hall)
    make_rating(hall="HZ-XC", at=now() - timedelta(days=20))
    run("collect_bad_ratings")
    return tokens


@pytest.fixture
def fast_path_off(monkeypatch):
    monkeypatch.setattr(rectification, "current_etag_if_matches", lambda *a, **k: None)


def _query_of(client, headers, **query):
    first = client.get(URL, query_string=query, headers=headers)
    assert first.status_code == 200, first.get_json()
    return first.headers["ETag"]


QUERIES = [{}, {"hall": "HZ-XC"}, {"status": "pending"}, {"overdue": "true"}, {"overdue": "false"}, {"source": "rating"},
           {"limit": "2"}, {"limit": "007"}, {"hall": "HZ-XC", "status": "pending", "limit": "1"},
           {"updated_since": "2020-01-01T08:00:00+08:00"}, {"updated_since": "2020-01-01T00:00:00Z"},
           {"hall": ""}]


@pytest.mark.parametrize("who", ["staff", "supervisor", "supervisor_jn", "admin"])
def test_fast_path_gives_the_full_paths_tag(client, items, monkeypatch, who):
    full_poll = rectification.poll_items
    for query in QUERIES:
        if query.get("hall") and who == "supervisor_jn":
            continue  # outside that supervisor's scope: see the refusals below
        monkeypatch.setattr(rectification, "poll_items", full_poll)
        etag = _query_of(client, items[who], **query)  # the full path: no If-None-Match
        monkeypatch.setattr(rectification, "poll_items", lambda *a, **k: pytest.fail("the full path ran"))
        again = client.get(URL, query_string=query, headers={**items[who], "If-None-Match": etag})
        assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == etag, query


def test_fast_path_tag_equals_items_etag_with_cursor_and_list(client, items):
    page = client.get(URL, query_string={"limit": 1}, headers=items["supervisor"]).get_json()
    code = page["items"][0]["list_code"]
    token = items["supervisor"]["Authorization"].split()[1]
    principal = authenticate(token)
    for filters, cursor in [({}, page["next_cursor"]), ({"list": code}, None), ({"list": code, "status": "pending"},
                                                                                page["next_cursor"])]:
        full = rectification.items_etag(principal, dict(filters), cursor, 1, local_date(now()))
        fast = rectification.current_etag_if_matches(token, "staff", dict(filters), cursor=cursor, limit=1,
                                                     if_none_match=full)
        assert fast == full
        assert rectification.current_etag_if_matches(token, "staff", dict(filters), cursor=cursor, limit=1,
                                                     if_none_match='"other"') is None
    db.session.remove()


def test_a_change_ends_the_304_at_once(client, items):
    etag = _query_of(client, items["supervisor"])
    other = _query_of(client, items["staff_jn"])
    item = client.get(URL, query_string={"hall": "HZ-XC"}, headers=items["supervisor"]).get_json()["items"][0]
    assert client.get(URL, headers={**items["supervisor"], "If-None-Match": etag}).status_code == 304
    assert client.post(f"{API}/rectifications/{item['id']}/actions", json={"action": "verify",
                                                                          "resolution": "immediate"},
                       headers=items["supervisor"]).status_code == 200
    changed = client.get(URL, headers={**items["supervisor"], "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert [i["version"] for i in changed.get_json()["items"] if i["id"] == item["id"]] == [2]
    assert client.get(URL, headers={**items["supervisor"], "If-None-Match": changed.headers["ETag"]}).status_code == 304
    # The staff of another hall keep their 304: the counters are per hall.
    assert client.get(URL, headers={**items["staff_jn"], "If-None-Match": other}).status_code == 304


def _deactivate(headers) -> None:
    digest = hash_token(headers["Authorization"].split()[1])
    db.session.execute(update(Account).where(Account.token_hash == digest).values(active=False))
    db.session.commit()


def test_a_deactivated_token_gets_no_more_304_at_once(client, items, monkeypatch):
    """No grace window: the fast path reads the account on every request, as the Flask view does."""
    for who in ("staff", "supervisor"):
        etag = _query_of(client, items[who])
        assert client.get(URL, headers={**items[who], "If-None-Match": etag}).status_code == 304
        assert client.get(URL, headers={**items[who], "If-None-Match": etag}).status_code == 304  # read again
        _deactivate(items[who])
        body = assert_problem(client.get(URL, headers={**items[who], "If-None-Match": etag}), 401, "invalid_token")
        assert body["detail"] == "访问令牌无效或已停用"
        assert_problem(client.get(URL, headers=items[who]), 401, "invalid_token")


def test_the_fast_path_switched_off_leaves_the_poll_to_flask(app_factory, items, monkeypatch):
    app = app_factory(POLL_FAST_PATH=False)
    client = app.test_client()
    etag = _query_of(client, items["supervisor"])
    monkeypatch.setattr(rectification, "current_etag_if_matches", lambda *a, **k: pytest.fail("the fast path ran"))
    calls = _counting_full_path(monkeypatch)
    again = client.get(URL, headers={**items["supervisor"], "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag and calls == [1]
    _deactivate(items["supervisor"])
    assert_problem(client.get(URL, headers={**items["supervisor"], "If-None-Match": etag}), 401, "invalid_token")


def test_refusals_are_the_full_paths(client, items, fast_path_off, monkeypatch):
    """Each refusal with If-None-Match, an unknown query parameter included, is byte for byte what the normal path
    answers."""
    etag = _query_of(client, items["staff"])
    cases = [({}, {"If-None-Match": etag}),
             ({}, {"Authorization": "Bearer not-a-token", "If-None-Match": etag}),
             ({}, {"Authorization": "Basic abc", "If-None-Match": etag}),
             ({"hall": "HZ-XC"}, {**items["staff_b"], "If-None-Match": etag}),
             ({"hall": "NOPE"}, {**items["supervisor"], "If-None-Match": etag}),
             ({"status": "done"}, {**items["staff"], "If-None-Match": etag}),
             ({"limit": "0"}, {**items["staff"], "If-None-Match": etag}),
             ({"hal": "HZ-XC"}, {**items["staff"], "If-None-Match": etag}),
             ({"cursor": "@@"}, {**items["staff"], "If-None-Match": etag}),
             ({"updated_since": "2026-01-01T08:00:00"}, {**items["staff"], "If-None-Match": etag}),
             ({"status": "pending\x00"}, {**items["staff"], "If-None-Match": etag})]
    expected = []
    for query, headers in cases:
        r = client.get(URL, query_string=query, headers=headers)
        expected.append((r.status_code, r.get_data(), sorted((k, v) for k, v in r.headers.items() if k != "Date")))
    monkeypatch.undo()  # now with the fast path in front
    for (query, headers), (status, data, hdrs) in zip(cases, expected, strict=True):
        r = client.get(URL, query_string=query, headers=headers)
        assert (r.status_code, r.get_data()) == (status, data), (query, r.get_json())
        assert sorted((k, v) for k, v in r.headers.items() if k != "Date") == hdrs
    assert [s for s, _, _ in expected] == [401, 401, 401, 404, 404, 422, 422, 422, 400, 422, 422]


def test_repeated_parameters_take_the_full_path(client, items, monkeypatch):
    etag = _query_of(client, items["supervisor"], status="pending")
    calls = []
    original = rectification.poll_items
    monkeypatch.setattr(rectification, "poll_items", lambda *a, **k: calls.append(1) or original(*a, **k))
    r = client.get(f"{URL}?status=pending&status=closed", headers={**items["supervisor"], "If-None-Match": etag})
    assert r.status_code == 304 and calls == [1]  # webargs takes the first value, as before


def test_the_fast_304_looks_like_the_full_304(client, items, fast_path_off, monkeypatch):
    etag = _query_of(client, items["supervisor"])
    full = client.get(URL, headers={**items["supervisor"], "If-None-Match": etag})
    monkeypatch.undo()
    fast = client.get(URL, headers={**items["supervisor"], "If-None-Match": etag})
    assert full.status_code == fast.status_code == 304
    assert sorted((k, v) for k, v in full.headers.items() if k != "Date") == \
        sorted((k, v) for k, v in fast.headers.items() if k != "Date")


def test_list_star_and_weak_tags_match_like_the_full_path(client, items, monkeypatch):
    etag = _query_of(client, items["admin"])
    monkeypatch.setattr(rectification, "poll_items", lambda *a, **k: pytest.fail("the full path ran"))
    for header in (f'"x", W/{etag}', "*", f"{etag}, \"y\""):
        assert client.get(URL, headers={**items["admin"], "If-None-Match": header}).status_code == 304


def test_the_fast_path_only_serves_the_poll(client, items):
    # "*" matches any tag: were the fast path applied to another route of the blueprint, this would be a 304.
    assert client.get(f"{API}/rectification-lists", headers={**items["staff"], "If-None-Match": "*"}).status_code == 200


def _counting_full_path(monkeypatch) -> list:
    calls = []
    original = rectification.poll_items
    monkeypatch.setattr(rectification, "poll_items", lambda *a, **k: calls.append(1) or original(*a, **k))
    return calls


def test_cross_origin_and_failures_take_the_normal_path(app, client, items, monkeypatch):
    etag = _query_of(client, items["staff"])
    calls = _counting_full_path(monkeypatch)
    # CORS adds its headers in Flask: a browser's request (Origin) is left to the normal path.
    assert client.get(URL, headers={**items["staff"], "If-None-Match": etag,
                                     "Origin": "https://example.org"}).status_code == 304
    assert calls == [1]

    def broken(*_a, **_k):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(rectification, "current_etag_if_matches", broken)
    assert client.get(URL, headers={**items["staff"], "If-None-Match": etag}).status_code == 304
    assert calls == [1, 1]  # the failure was not an answer: the normal path gave it


def test_other_paths_and_methods_are_flasks(client, items):
    etag = _query_of(client, items["staff"])
    slash = client.get(f"{URL}/", headers={**items["staff"], "If-None-Match": etag})
    assert slash.status_code != 304
    head = client.head(URL, headers={**items["staff"], "If-None-Match": etag})
    assert head.status_code == 304 and head.headers["ETag"] == etag  # Flask's HEAD, as before
