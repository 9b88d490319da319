"""Open data: the exported file carries no personal data or secret, and opens as plain SQLite with FTS."""
import json
import sqlite3

from sqlalchemy import select

from models import Account, Case, db
from service import cases
from tests.helpers import API, register_case

NAMES = ["欧阳娜娜", "司马光明"]
PHONES = ["13912345678", "15087654321"]


def test_export_has_no_personal_data_or_secrets(app, client, tokens, tmp_path):
    case = register_case(client, tokens["staff"], staff_no="S0815")
    receipts = []
    for i, (name, phone) in enumerate(zip(NAMES, PHONES, strict=True)):
        body = {"hall": "HZ-XC", "score": 1, "channel": "miniprogram", "anonymous": False, "name": name,
                "phone": phone, "comment": f"{name}在窗口等了两个小时", "tags": ["QUEUE"], "staff_no": "S0815"}
        if i == 0:
            body = {**body, "hall": None, "rating_token": case["rating_token"], "staff_no": None}
            body = {k: v for k, v in body.items() if v is not None}
        created = client.post(f"{API}/ratings", json=body)
        assert created.status_code == 201, created.get_json()
        receipts.append(created.get_json()["receipt"])
    client.post(f"{API}/ratings", json={"hall": "HZ-XC-JN", "score": 5, "channel": "qrcode", "tags": ["EFFICIENT"]})

    from tests.rect_helpers import run

    run("collect_bad_ratings")  # the two 差评 become rectification items, whose problem text quotes the rater
    out = tmp_path / "open.db"
    result = app.test_cli_runner().invoke(args=["opendata", "export", str(out)])
    assert result.exit_code == 0, result.output

    blob = out.read_bytes()
    secrets = NAMES + PHONES + receipts + [case["rating_token"], "S0815", "在窗口等了两个小时"]
    secrets += [row for row in db.session.execute(select(Account.token_hash)).scalars()]
    secrets += [row for row in db.session.execute(select(Case.token_hash)).scalars()]
    for secret in secrets:
        assert secret.encode() not in blob, secret
    assert cases.rating_token("HZ-XC", case["request"]["case_no"]).encode() not in blob

    con = sqlite3.connect(out)
    assert con.execute("select count(*) from ratings").fetchone()[0] == 3
    assert con.execute("select level_label, is_bad, tags from ratings where hall_code='HZ-XC'").fetchall() == [
        ("非常不满意", 1, "QUEUE"), ("非常不满意", 1, "QUEUE")]
    columns = {r[1] for r in con.execute("pragma table_info(ratings)")}
    assert columns.isdisjoint({"name", "phone", "comment", "staff_no", "created_at", "id", "case_id"})
    # Full-text search over public names, including Chinese substrings.
    hits = con.execute("select name from halls where rowid in (select rowid from halls_fts "
                       "where halls_fts match '便民服务')").fetchall()
    assert {h[0] for h in hits} == {"西城区江南街道便民服务中心", "西城区湖滨街道便民服务中心"}
    daily = con.execute("select item_code, ratings, bad, bad_rate from daily_stats where hall_code='HZ-XC' "
                        "order by item_code").fetchall()
    assert daily == [("", 1, 1, 1.0), ("SB-001", 1, 1, 1.0)]  # the hall QR rating names no item
    described = dict(con.execute("select column_name, description from column_descriptions "
                                 "where table_name='ratings'").fetchall())
    assert described["score"].startswith("评分")
    metadata = json.loads(out.with_suffix(".metadata.json").read_text(encoding="utf-8"))
    assert metadata["databases"]["open"]["tables"]["ratings"]["columns"]["is_bad"]
    items_columns = {r[1] for r in con.execute("pragma table_info(rectification_items)")}
    assert {"list_code", "status", "due_date", "closed_on", "overdue"} <= items_columns
    assert "problem" not in items_columns
    assert con.execute("select count(*), min(status_label) from rectification_items").fetchone() == (2, "待核实")


def test_nightly_jobs_refresh_the_rollup_and_write_the_file(app, client, tokens, tmp_path):
    from jobs import DAILY
    from models import DailyUnitStats, JobRun

    app.config["OPENDATA_PATH"] = str(tmp_path / "nightly" / "open.db")
    from tests.rect_helpers import make_rating

    make_rating(score=1)  # today: not final yet, so the rollup holds nothing for it
    for name, (run, _) in DAILY.items():
        assert run(holder="test").status == "ok", name
    assert (tmp_path / "nightly" / "open.db").exists()
    con = sqlite3.connect(tmp_path / "nightly" / "open.db")
    assert con.execute("select count(*) from ratings").fetchone()[0] == 1
    assert db.session.query(JobRun).filter(JobRun.job.in_(list(DAILY))).count() == 2
    assert db.session.query(DailyUnitStats).count() == 0
