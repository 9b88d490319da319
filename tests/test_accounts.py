"""Accounts (admin, API 1.1): list, create, deactivate, rotate over HTTP and the CLI; a deactivated or rotated-away
token is refused at once on every route, the supervisors' 304 polling path included."""
import re

import pytest
from sqlalchemy import select

from models import Account, db
from service import accounts, rectification_polling
from service.errors import Conflict
from service.security import hash_token
from tests.helpers import API, assert_problem, register_case
from tests.rect_helpers import make_rating, run

URL = f"{API}/accounts"
POLL = f"{API}/rectifications"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def token_of(headers: dict) -> str:
    return headers["Authorization"].split()[1]


def create(client, tokens, **body) -> dict:
    response = client.post(URL, json=body, headers=tokens["admin"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def stored_hashes() -> set[str]:
    db.session.commit()
    return set(db.session.execute(select(Account.token_hash)).scalars())


def assert_no_secret(response) -> None:
    text = response.get_data(as_text=True)
    assert "token_hash" not in text
    assert not any(digest in text for digest in stored_hashes())


def account_id_of(headers: dict) -> int:
    db.session.commit()
    return db.session.execute(select(Account.id).where(Account.token_hash == hash_token(token_of(headers)))).scalar()


# --- refused at once, everywhere -------------------------------------------------------------------------------

def _refused_everywhere(client, headers, etag):
    """Every kind of route the old token reached now answers 401 invalid_token, the 304 poll first of all."""
    assert_problem(client.get(POLL, headers={**headers, "If-None-Match": etag}), 401, "invalid_token")
    assert_problem(client.get(POLL, headers=headers), 401, "invalid_token")
    assert_problem(client.get(f"{API}/ratings", headers=headers), 401, "invalid_token")
    assert_problem(client.get(f"{API}/stats", headers=headers), 401, "invalid_token")
    assert_problem(client.post(f"{API}/cases", json={"case_no": "X-1", "hall": "HZ-XC", "item": "SB-001"},
                               headers=headers), 401, "invalid_token")
    assert_problem(client.get(f"{API}/jobs", headers=headers), 401, "invalid_token")


@pytest.fixture
def polled(client, tokens, monkeypatch):
    """A supervisor polling the rectification list: its ETag, and proof that the 304 comes from the fast path in
    front of Flask (the full path is made to fail)."""
    make_rating(hall="HZ-XC")
    run("collect_bad_ratings")
    first = client.get(POLL, headers=tokens["supervisor"])
    assert first.status_code == 200 and first.get_json()["items"]
    etag = first.headers["ETag"]
    full_poll = rectification_polling.poll_items
    monkeypatch.setattr(rectification_polling, "poll_items", lambda *a, **k: pytest.fail("the full path ran"))
    again = client.get(POLL, headers={**tokens["supervisor"], "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    monkeypatch.setattr(rectification_polling, "poll_items", full_poll)
    return etag


def test_a_deactivated_token_is_refused_at_once_on_every_route(client, tokens, polled):
    supervisor = tokens["supervisor"]
    response = client.post(f"{URL}/{account_id_of(supervisor)}/deactivate", headers=tokens["admin"])
    assert response.status_code == 200 and response.get_json()["active"] is False
    _refused_everywhere(client, supervisor, polled)
    # Others carry on: the admin, and the supervisor's own hall staff.
    assert client.get(POLL, headers=tokens["staff"]).status_code == 200
    assert client.get(URL, headers=tokens["admin"]).status_code == 200


def test_a_rotated_token_is_refused_at_once_and_the_new_one_works(client, tokens, polled):
    old = tokens["supervisor"]
    account_id = account_id_of(old)
    response = client.post(f"{URL}/{account_id}/rotate", headers=tokens["admin"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == account_id and body["active"] is True and body["token"] != token_of(old)
    _refused_everywhere(client, old, polled)
    new = bearer(body["token"])
    assert client.get(POLL, headers=new).status_code == 200
    assert client.get(f"{API}/jobs", headers=new).status_code == 200
    # The token is shown once: the account as listed never carries it (nor its hash).
    listed = client.get(URL, headers=tokens["admin"])
    assert body["token"] not in listed.get_data(as_text=True)
    assert_no_secret(listed)


def test_an_admin_may_rotate_their_own_token(client, tokens):
    me = account_id_of(tokens["admin"])
    body = client.post(f"{URL}/{me}/rotate", headers=tokens["admin"]).get_json()
    assert_problem(client.get(URL, headers=tokens["admin"]), 401, "invalid_token")
    assert client.get(URL, headers=bearer(body["token"])).status_code == 200


# --- create ------------------------------------------------------------------------------------------------------

def test_create_answers_the_token_once_and_it_works(client, tokens):
    response = client.post(URL, json={"role": "staff", "hall": "HZ-XC-HB", "name": " 窗口乙 "}, headers=tokens["admin"])
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"id", "name", "role", "role_label", "hall", "active", "created_at", "token"}
    assert body["name"] == "窗口乙" and body["role"] == "staff" and body["hall"] == "HZ-XC-HB" and body["active"]
    assert body["role_label"] == "窗口/部门工作人员" and body["created_at"].endswith("+08:00")
    assert_no_secret(response)
    headers = bearer(body["token"])
    case = register_case(client, headers, hall="HZ-XC-HB")
    assert case["rating_token"]
    # Scoped like every staff account: another hall is not found.
    assert_problem(client.post(f"{API}/cases", json={"case_no": "Z1", "hall": "HZ-XC", "item": "SB-001"},
                               headers=headers), 404)
    admin = create(client, tokens, role="admin", name="区数据局管理员")
    assert admin["hall"] is None and client.get(URL, headers=bearer(admin["token"])).status_code == 200


@pytest.mark.parametrize("body, field, message", [
    ({"role": "boss", "hall": "HZ-XC", "name": "甲"}, "role", "角色只能是以下之一：窗口/部门工作人员、监管人员、系统管理员"),
    ({"role": "staff", "name": "甲"}, "hall", "工作人员和监管账号必须指定所属大厅"),
    ({"role": "supervisor", "hall": None, "name": "甲"}, "hall", "工作人员和监管账号必须指定所属大厅"),
    ({"role": "staff", "hall": "NOPE", "name": "甲"}, "hall", "未知的大厅编码：NOPE"),
    ({"role": "staff", "hall": "HZ-XC", "name": ""}, "name", "账号名称长度应在 1 到 100 个字之间"),
    ({"role": "staff", "hall": "HZ-XC", "name": "   "}, "name", "账号名称不能为空"),
    ({"role": "staff", "hall": "HZ-XC"}, "name", "此项为必填项"),
    ({"role": "staff", "hall": "HZ-XC", "name": "甲", "token": "mine"}, "token", "不支持的字段"),
])
def test_create_refuses_bad_input_in_chinese(client, tokens, body, field, message):
    before = stored_hashes()
    problem = assert_problem(client.post(URL, json=body, headers=tokens["admin"]), 422, "validation_error")
    assert problem["errors"][field] == [message]
    assert stored_hashes() == before


# --- list --------------------------------------------------------------------------------------------------------

def test_list_filters_and_pages_without_secrets(client, tokens):
    everyone = client.get(URL, headers=tokens["admin"])
    assert_no_secret(everyone)
    items = everyone.get_json()["items"]
    assert len(items) == 6 and everyone.get_json()["next_cursor"] is None
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), reverse=True)  # newest first
    assert all("token" not in i for i in items)
    client.post(f"{URL}/{account_id_of(tokens['staff_b'])}/deactivate", headers=tokens["admin"])

    def names(**query):
        response = client.get(URL, query_string=query, headers=tokens["admin"])
        assert response.status_code == 200, response.get_json()
        return {i["name"] for i in response.get_json()["items"]}

    assert names(hall="HZ-XC") == {"测试-staff", "测试-supervisor"}
    assert names(role="supervisor") == {"测试-supervisor", "测试-supervisor_jn"}
    assert names(active="false") == {"测试-staff_b"}
    assert len(names(active="true")) == 5
    assert names(hall="HZ-XC-HB", active="true") == set()
    assert names(role="admin", hall="HZ-XC") == set()

    seen, cursor = [], None
    while True:
        page = client.get(URL, query_string={"limit": 4, **({"cursor": cursor} if cursor else {})},
                          headers=tokens["admin"]).get_json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [i["id"] for i in items]

    for query, field in [({"role": "boss"}, "role"), ({"hall": "NOPE"}, "hall"), ({"active": "maybe"}, "active"),
                         ({"limit": 0}, "limit"), ({"hal": "HZ-XC"}, "hal")]:
        problem = assert_problem(client.get(URL, query_string=query, headers=tokens["admin"]), 422)
        assert field in problem["errors"], problem
    assert_problem(client.get(URL, query_string={"cursor": "@@"}, headers=tokens["admin"]), 400, "invalid_cursor")


# --- deactivate and rotate: the refusals ---------------------------------------------------------------------------

def test_deactivate_is_idempotent_and_unknown_accounts_are_not_found(client, tokens):
    staff = account_id_of(tokens["staff"])
    first = client.post(f"{URL}/{staff}/deactivate", headers=tokens["admin"])
    again = client.post(f"{URL}/{staff}/deactivate", headers=tokens["admin"])
    assert first.status_code == again.status_code == 200
    assert first.get_json() == again.get_json() and again.get_json()["active"] is False
    assert_no_secret(again)
    assert_problem(client.post(f"{URL}/999999/deactivate", headers=tokens["admin"]), 404, "not_found")
    assert_problem(client.post(f"{URL}/999999/rotate", headers=tokens["admin"]), 404, "not_found")
    # A deactivated account gets no new token (it could not use it): 409, and nothing changes.
    before = stored_hashes()
    assert_problem(client.post(f"{URL}/{staff}/rotate", headers=tokens["admin"]), 409, "account_inactive")
    assert stored_hashes() == before


def test_an_admin_cannot_deactivate_their_own_account(client, tokens):
    me = account_id_of(tokens["admin"])
    problem = assert_problem(client.post(f"{URL}/{me}/deactivate", headers=tokens["admin"]), 409,
                             "cannot_deactivate_self")
    assert "自己" in problem["detail"]
    assert client.get(URL, headers=tokens["admin"]).status_code == 200  # still signed in
    # Another admin may.
    other = create(client, tokens, role="admin", name="第二管理员")
    assert client.post(f"{URL}/{me}/deactivate", headers=bearer(other["token"])).get_json()["active"] is False
    assert_problem(client.get(URL, headers=tokens["admin"]), 401, "invalid_token")


def test_an_admin_deactivated_meanwhile_cannot_deactivate_the_other(app, client, tokens):
    """Two admins deactivating each other at the same moment: the second to commit is refused, so one stays."""
    first = create(client, tokens, role="admin", name="管理员甲")
    second = create(client, tokens, role="admin", name="管理员乙")
    accounts.deactivate(first["id"], actor_id=second["id"])
    with pytest.raises(Conflict) as refused:
        accounts.deactivate(second["id"], actor_id=first["id"])  # authenticated just before the other's commit
    assert refused.value.code == "actor_inactive"
    db.session.commit()
    assert db.session.get(Account, second["id"]).active is True


@pytest.mark.parametrize("who", ["staff", "supervisor"])
def test_only_admins_may_manage_accounts(client, tokens, who):
    target = account_id_of(tokens["staff_b"])
    before = stored_hashes()
    assert_problem(client.get(URL, headers=tokens[who]), 403, "forbidden")
    assert_problem(client.post(URL, json={"role": "admin", "name": "我自己"}, headers=tokens[who]), 403, "forbidden")
    assert_problem(client.post(f"{URL}/{target}/deactivate", headers=tokens[who]), 403, "forbidden")
    assert_problem(client.post(f"{URL}/{target}/rotate", headers=tokens[who]), 403, "forbidden")
    assert_problem(client.post(f"{URL}/{target}/rotate"), 401, "unauthorized")
    assert stored_hashes() == before
    assert client.get(f"{API}/ratings", headers=tokens["staff_b"]).status_code == 200


def test_openapi_documents_the_routes_their_parameters_and_errors(client):
    spec = client.get(f"{API}/openapi.json").get_json()
    listing = spec["paths"][f"{API}/accounts"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"hall", "role", "active", "cursor", "limit"}
    assert {"200", "401", "403", "422"} <= set(listing["responses"])
    assert {"201", "401", "403", "422"} <= set(spec["paths"][f"{API}/accounts"]["post"]["responses"])
    deactivate = spec["paths"][f"{API}/accounts/{{account_id}}/deactivate"]["post"]["responses"]
    assert {"200", "401", "403", "404", "409"} <= set(deactivate)
    assert "cannot_deactivate_self" in deactivate["409"]["description"]
    rotate = spec["paths"][f"{API}/accounts/{{account_id}}/rotate"]["post"]["responses"]
    assert {"200", "401", "403", "404", "409"} <= set(rotate) and "account_inactive" in rotate["409"]["description"]


# --- the CLI -------------------------------------------------------------------------------------------------------

def created_id(output: str) -> int:
    return int(re.match(r"账号 (\d+)（", output).group(1))


def test_cli_create_list_rotate_deactivate(app, client, demo):
    cli = app.test_cli_runner()
    made = cli.invoke(args=["accounts", "create", "--role", "admin", "--name", "区管理员"])
    assert made.exit_code == 0, made.output
    admin_token = made.output.strip().splitlines()[-1]
    assert "只显示这一次" in made.output
    made = cli.invoke(args=["accounts", "create", "--role", "staff", "--hall", "HZ-XC", "--name", "窗口甲"])
    staff_token = made.output.strip().splitlines()[-1]
    staff_id = created_id(made.output)
    assert client.get(f"{API}/ratings", headers=bearer(staff_token)).status_code == 200

    listed = cli.invoke(args=["accounts", "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert lines[0].split() == ["ID", "角色", "大厅", "状态", "创建时间", "名称"]
    assert lines[1].split()[:4] == [str(staff_id), "staff", "HZ-XC", "启用"] and lines[1].endswith("窗口甲")
    assert lines[2].split()[1:4] == ["admin", "全部大厅", "启用"] and lines[-1] == "共 2 个账号"
    assert admin_token not in listed.output and staff_token not in listed.output
    assert not any(digest in listed.output for digest in stored_hashes())

    rotated = cli.invoke(args=["accounts", "rotate", str(staff_id)])
    assert rotated.exit_code == 0, rotated.output
    new_token = rotated.output.strip().splitlines()[-1]
    assert new_token != staff_token and "只显示这一次" in rotated.output
    assert_problem(client.get(f"{API}/ratings", headers=bearer(staff_token)), 401, "invalid_token")
    assert client.get(f"{API}/ratings", headers=bearer(new_token)).status_code == 200

    for _ in range(2):  # idempotent
        gone = cli.invoke(args=["accounts", "deactivate", str(staff_id)])
        assert gone.exit_code == 0 and "已停用" in gone.output, gone.output
    assert_problem(client.get(f"{API}/ratings", headers=bearer(new_token)), 401, "invalid_token")
    inactive = cli.invoke(args=["accounts", "list", "--inactive"]).output.strip().splitlines()
    assert len(inactive) == 3 and inactive[1].split()[:4] == [str(staff_id), "staff", "HZ-XC", "已停用"]
    only_admins = cli.invoke(args=["accounts", "list", "--role", "admin", "--active"]).output
    assert "区管理员" in only_admins and "窗口甲" not in only_admins
    assert client.get(URL, headers=bearer(admin_token)).status_code == 200


def test_cli_refusals_are_chinese_and_nonzero(app, demo):
    cli = app.test_cli_runner()
    for args, message in [(["accounts", "deactivate", "424242"], "未找到该账号"),
                          (["accounts", "rotate", "424242"], "未找到该账号"),
                          (["accounts", "create", "--role", "staff", "--name", "甲"], "工作人员和监管账号必须指定所属大厅"),
                          (["accounts", "create", "--role", "staff", "--hall", "NOPE", "--name", "甲"],
                           "未知的大厅编码：NOPE"),
                          (["accounts", "list", "--hall", "NOPE"], "未知的大厅编码：NOPE")]:
        result = cli.invoke(args=args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
    made = cli.invoke(args=["accounts", "create", "--role", "staff", "--hall", "HZ-XC", "--name", "窗口甲"])
    staff_id = str(created_id(made.output))
    cli.invoke(args=["accounts", "deactivate", staff_id])
    refused = cli.invoke(args=["accounts", "rotate", staff_id])
    assert refused.exit_code != 0 and "已停用" in refused.output
