"""Catalog: public reads, admin writes, CSV import, accounts CLI."""
from sqlalchemy import select

from models import Account, Hall, db
from tests.helpers import API, assert_problem


def test_demo_catalog_looks_like_a_district(client, demo):
    halls = client.get(f"{API}/halls").get_json()["items"]
    levels = {h["level"] for h in halls}
    assert levels == {"city", "district", "street", "community"}
    by_code = {h["code"]: h for h in halls}
    assert by_code["HZ-XC-JN-LY"]["parent_code"] == "HZ-XC-JN"
    detail = client.get(f"{API}/halls/HZ-XC").get_json()
    assert len(detail["windows"]) >= 12 and {"code": "01", "name": "综合受理1号窗口"} in detail["windows"]
    departments = {i["department"] for i in client.get(f"{API}/items").get_json()["items"]}
    for dept in ("人力资源和社会保障局", "医疗保障局", "税务局", "民政局", "卫生健康委员会", "档案局", "住房公积金管理中心"):
        assert dept in departments
    tags = {t["label"]: t["applies_to"] for t in client.get(f"{API}/tags").get_json()["items"]}
    for label in ("材料过多", "排队时间长", "重复提交材料", "流程复杂", "态度不好"):
        assert tags[label] == "bad"
    assert tags["效率高"] == "good" and tags["耐心细致"] == "good"


def test_items_are_filtered_by_hall_and_text(client, demo):
    community = client.get(f"{API}/items", query_string={"hall": "HZ-XC-JN-LY"}).get_json()["items"]
    codes = {i["code"] for i in community}
    assert "SB-001" in codes and "GA-003" not in codes  # passports are not issued in a community station
    found = client.get(f"{API}/items", query_string={"q": "公积金"}).get_json()["items"]
    assert found and all("公积金" in i["name"] or "公积金" in i["department"] for i in found)
    assert_problem(client.get(f"{API}/items", query_string={"hall": "NOPE"}), 404, "not_found")


def test_unknown_hall_is_a_problem(client, demo):
    assert_problem(client.get(f"{API}/halls/NOPE"), 404, "not_found")


def test_admin_writes_and_role_checks(client, tokens):
    body = {"code": "HZ-XC-XY", "name": "西城区新月街道便民服务中心", "level": "street", "parent_code": "HZ-XC"}
    assert_problem(client.post(f"{API}/halls", json=body), 401, "unauthorized")
    assert_problem(client.post(f"{API}/halls", json=body, headers={"Authorization": "Bearer nope"}), 401,
                   "invalid_token")
    assert_problem(client.post(f"{API}/halls", json=body, headers=tokens["supervisor"]), 403, "forbidden")
    created = client.post(f"{API}/halls", json=body, headers=tokens["admin"])
    assert created.status_code == 201 and created.get_json()["windows"] == []
    assert_problem(client.post(f"{API}/halls", json=body, headers=tokens["admin"]), 409, "duplicate")

    deeper_parent = {**body, "code": "X2", "parent_code": "HZ-XC-JN-LY"}
    problem = assert_problem(client.post(f"{API}/halls", json=deeper_parent, headers=tokens["admin"]), 422)
    assert "parent_code" in problem["errors"]
    problem = assert_problem(client.post(f"{API}/halls", json={**body, "code": "X3", "level": "province"},
                                         headers=tokens["admin"]), 422, "validation_error")
    assert "level" in problem["errors"]

    patched = client.patch(f"{API}/halls/HZ-XC-XY", json={"address": "新月路1号"}, headers=tokens["admin"])
    assert patched.status_code == 200 and patched.get_json()["address"] == "新月路1号"
    window = client.post(f"{API}/halls/HZ-XC-XY/windows", json={"code": "01", "name": "综合窗口"},
                         headers=tokens["admin"])
    assert window.status_code == 201
    assert_problem(client.post(f"{API}/halls/HZ-XC-XY/windows", json={"code": "01", "name": "又一个"},
                               headers=tokens["admin"]), 409, "duplicate")
    renamed = client.patch(f"{API}/halls/HZ-XC-XY/windows/01", json={"name": "综合受理窗口"}, headers=tokens["admin"])
    assert renamed.get_json() == {"code": "01", "name": "综合受理窗口"}

    item = client.post(f"{API}/items", json={"code": "MZ-009", "name": "困难残疾人生活补贴", "department": "民政局",
                                             "halls": ["HZ-XC-XY"]}, headers=tokens["admin"])
    assert item.status_code == 201 and item.get_json()["halls"] == ["HZ-XC-XY"]
    offered = client.get(f"{API}/items", query_string={"hall": "HZ-XC-XY"}).get_json()["items"]
    assert [i["code"] for i in offered] == ["MZ-009"]
    problem = assert_problem(client.patch(f"{API}/items/MZ-009", json={"halls": ["NOPE"]}, headers=tokens["admin"]),
                             422)
    assert "halls" in problem["errors"]

    tag = client.post(f"{API}/tags", json={"code": "NOISY", "label": "环境嘈杂", "applies_to": "bad"},
                      headers=tokens["admin"])
    assert tag.status_code == 201
    assert client.patch(f"{API}/tags/NOISY", json={"label": "大厅嘈杂"}, headers=tokens["admin"]).get_json()[
        "label"] == "大厅嘈杂"


def test_catalog_import_is_all_or_nothing(app, tmp_path):
    runner = app.test_cli_runner()
    bad = tmp_path / "bad.csv"
    bad.write_text("type,code,name,level,parent,address,hall,department,halls,applies_to\n"
                   "hall,C1,某市政务服务中心,city,,,,,,\n"
                   "window,01,一号窗口,,,,NOPE,,,\n", encoding="utf-8")
    result = runner.invoke(args=["catalog", "import", str(bad)])
    assert result.exit_code != 0 and "第 3 行" in result.output
    assert db.session.get(Hall, "C1") is None

    # A CSV author writes the file's codes, so an error about a coded column names them (the HTTP answer names labels).
    coded = tmp_path / "coded.csv"
    coded.write_text("type,code,name,level,parent,address,hall,department,halls,applies_to\n"
                     "hall,C2,某市政务服务中心,市级,,,,,,\n"
                     "tag,T2,办得快,,,,,,,好评\n", encoding="utf-8")
    result = runner.invoke(args=["catalog", "import", str(coded)])
    assert result.exit_code != 0
    assert "第 2 行：大厅层级只能是以下之一：市级、区县级、街道（乡镇）、社区（村）（level 列填写 city、district、street、" \
           "community）" in result.output
    assert "第 3 行：标签适用范围只能是以下之一：好评、差评、通用（applies_to 列填写 good、bad、any）" in result.output

    good = tmp_path / "good.csv"
    good.write_text("type,code,name,level,parent,address,hall,department,halls,applies_to\n"
                    "window,01,一号窗口,,,,C1,,,\n"
                    "hall,C1-D,某区中心,district,C1,,,,,\n"
                    "hall,C1,某市政务服务中心,city,,,,,,\n"
                    "item,X-1,某事项,,,,,某局,C1|C1-D,\n"
                    "tag,FAST,办得快,,,,,,,good\n", encoding="utf-8")
    result = runner.invoke(args=["catalog", "import", str(good)])
    assert result.exit_code == 0, result.output
    assert db.session.get(Hall, "C1-D").parent_code == "C1"
    # Importing the same file again updates in place instead of failing or duplicating.
    assert runner.invoke(args=["catalog", "import", str(good)]).exit_code == 0


def test_accounts_create_prints_a_token_stored_only_as_hash(app, client, demo):
    result = app.test_cli_runner().invoke(args=["accounts", "create", "--role", "staff", "--hall", "HZ-XC",
                                                "--name", "王小明"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    stored = db.session.execute(select(Account.token_hash)).scalars().all()
    assert token not in stored and all(len(h) == 64 for h in stored)
    listing = client.get(f"{API}/ratings", headers={"Authorization": f"Bearer {token}"})
    assert listing.status_code == 200
    bad = app.test_cli_runner().invoke(args=["accounts", "create", "--role", "staff", "--name", "无大厅"])
    assert bad.exit_code != 0 and "所属大厅" in bad.output
