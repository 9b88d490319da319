"""我陪群众走流程: tablet upserts and offline batch sync, scope, read-only after submission, the 体验反馈表."""
import hashlib
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from models import Finding, Walkthrough, db
from tests.helpers import API, assert_problem

STARTED = "2026-01-05T09:00:00+08:00"


def new_id() -> str:
    return str(uuid.uuid4())


def finding(**overrides) -> dict:
    return {"id": new_id(), "step": "wait", "category": "efficiency", "description": "取号后等候时间过长",
            "severity": "medium", "needs_rectification": True, "wait_minutes": 25, **overrides}


def walkthrough(findings=None, **overrides) -> dict:
    return {"id": new_id(), "hall": "HZ-XC", "item": "SB-001", "mode": "accompany",
            "observer": {"name": "王建国", "title": "人社局副局长"}, "citizen": {"name": "张三丰"},
            "started_at": STARTED, "ended_at": "2026-01-05T10:30:00+08:00", "summary": "整体顺畅，等候偏长",
            "status": "draft", "findings": [finding()] if findings is None else findings, **overrides}


def counts() -> tuple[int, int]:
    db.session.expire_all()
    return (db.session.execute(select(func.count()).select_from(Walkthrough)).scalar_one(),
            db.session.execute(select(func.count()).select_from(Finding)).scalar_one())


def snapshot() -> list:
    """Every stored column of both tables, so 'nothing changed' means nothing at all (timestamps included)."""
    db.session.expire_all()
    rows = []
    for table, order in (("walkthroughs", "seq"), ("findings", "id")):
        for row in db.session.execute(text(f"SELECT * FROM {table} ORDER BY {order}")).mappings():
            rows.append({k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()})
    return rows


def post(client, headers, body):
    return client.post(f"{API}/walkthroughs", json=body, headers=headers)


def sync(client, headers, records):
    response = client.post(f"{API}/sync", json={"walkthroughs": records}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["results"]


# ---- vocabularies --------------------------------------------------------------------------------------------
def test_vocabularies_are_public_with_chinese_labels(client):
    body = client.get(f"{API}/walkthrough-vocabularies").get_json()
    assert [m["label"] for m in body["modes"]] == ["陪同办", "亲身办", "暗访", "坐窗口", "跨部门互办"]
    assert [s["label"] for s in body["steps"]] == ["咨询", "取号", "等候", "受理", "填表", "递交材料", "审批", "缴费",
                                                   "出件", "评价", "线上办理"]
    assert {c["label"] for c in body["categories"]} >= {"材料", "适老/无障碍", "线上平台", "其他"}
    assert {s["code"] for s in body["severities"]} == {"low", "medium", "high"}


def test_enums_are_validated_with_chinese_messages(client, tokens):
    bad = walkthrough(mode="walk", findings=[finding(step="queue", category="speed", severity="urgent")])
    problem = assert_problem(post(client, tokens["staff"], bad), 422, "validation_error")
    assert "陪同办" in problem["errors"]["mode"][0]
    errors = problem["errors"]["findings"]["0"]
    assert "等候" in errors["step"][0] and "效率" in errors["category"][0] and "严重" in errors["severity"][0]
    assert counts() == (0, 0)


# ---- POST /walkthroughs ------------------------------------------------------------------------------------
def test_create_replay_update_is_an_idempotent_upsert(client, tokens):
    body = walkthrough(findings=[finding(), finding(step="accept", category="attitude", handle_minutes=5)])
    created = post(client, tokens["staff"], body)
    assert created.status_code == 201
    view = created.get_json()
    assert view["id"] == body["id"] and view["status"] == "draft" and view["mode_label"] == "陪同办"
    assert [f["id"] for f in view["findings"]] == [f["id"] for f in body["findings"]]
    stored = snapshot()

    replay = post(client, tokens["staff"], body)
    assert replay.status_code == 200 and replay.get_json() == view
    assert snapshot() == stored

    # The tablet edits the draft: a finding removed, another changed.
    edited = {**body, "summary": "等候偏长，受理窗口态度冷淡",
              "findings": [{**body["findings"][1], "severity": "high"}]}
    updated = post(client, tokens["staff"], edited)
    assert updated.status_code == 200
    assert updated.get_json()["summary"] == "等候偏长，受理窗口态度冷淡"
    assert [(f["id"], f["severity"]) for f in updated.get_json()["findings"]] == [(body["findings"][1]["id"], "high")]
    assert counts() == (1, 1)


def test_client_ids_are_case_insensitive(client, tokens):
    body = walkthrough()
    assert post(client, tokens["staff"], body).status_code == 201
    upper = {**body, "id": body["id"].upper()}
    assert post(client, tokens["staff"], upper).status_code == 200
    assert client.get(f"{API}/walkthroughs/{body['id'].upper()}", headers=tokens["staff"]).status_code == 200
    assert counts() == (1, 1)


def test_citizen_name_is_encrypted_and_masked(client, tokens):
    body = walkthrough(citizen={"name": "欧阳娜娜"})
    view = post(client, tokens["staff"], body).get_json()
    assert view["citizen"] == {"name": "欧***"}
    assert client.get(f"{API}/walkthroughs/{body['id']}/feedback", headers=tokens["staff"]).get_json()[
        "citizen"] == {"name": "欧***"}
    html = client.get(f"{API}/walkthroughs/{body['id']}/feedback?format=html", headers=tokens["staff"])
    assert "欧阳娜娜" not in html.get_data(as_text=True)
    for row in snapshot():
        for value in row.values():
            as_text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            assert "欧阳娜娜" not in as_text
    anonymous = post(client, tokens["staff"], walkthrough(citizen=None)).get_json()
    assert anonymous["citizen"] is None


def test_submitted_walkthrough_is_read_only(client, tokens):
    body = walkthrough()
    post(client, tokens["staff"], body)
    submitted = client.post(f"{API}/walkthroughs/{body['id']}/submit", headers=tokens["staff"])
    assert submitted.status_code == 200
    view = submitted.get_json()
    assert view["status"] == "submitted" and view["status_label"] == "已提交" and view["submitted_at"]
    stored = snapshot()

    changed = {**body, "summary": "改过的小结"}
    assert_problem(post(client, tokens["staff"], changed), 409, "walkthrough_submitted")
    assert_problem(post(client, tokens["staff"], {**changed, "status": "submitted"}), 409, "walkthrough_submitted")
    result = sync(client, tokens["staff"], [changed])
    assert result == [{"id": body["id"], "outcome": "rejected", "errors": {"id": ["该走流程记录已提交，不能再修改"]}}]
    # The tablet still replays its old queue (status draft, same content): nothing to do, never un-submitted.
    assert post(client, tokens["staff"], body).status_code == 200
    assert sync(client, tokens["staff"], [body]) == [{"id": body["id"], "outcome": "unchanged"}]
    again = client.post(f"{API}/walkthroughs/{body['id']}/submit", headers=tokens["staff"])
    assert again.status_code == 200 and again.get_json()["submitted_at"] == view["submitted_at"]
    assert snapshot() == stored


def test_walkthrough_can_arrive_already_submitted(client, tokens):
    body = walkthrough(status="submitted")
    created = post(client, tokens["staff"], body)
    assert created.status_code == 201 and created.get_json()["submitted_at"]
    assert post(client, tokens["staff"], body).status_code == 200
    assert_problem(post(client, tokens["staff"], {**body, "findings": []}), 409, "walkthrough_submitted")
    # A draft submitted through a sync counts as an update of that draft.
    draft = walkthrough()
    post(client, tokens["staff"], draft)
    assert sync(client, tokens["staff"], [{**draft, "status": "submitted"}])[0]["outcome"] == "updated"
    assert client.get(f"{API}/walkthroughs/{draft['id']}", headers=tokens["staff"]).get_json()["status"] == "submitted"


def test_times_from_offline_tablets(client, tokens):
    now = datetime.now(UTC)
    old = walkthrough(started_at=(now - timedelta(days=40)).isoformat(), ended_at=(now - timedelta(days=40,
                                                                                                  minutes=-50)).isoformat())
    assert post(client, tokens["staff"], old).status_code == 201
    skewed = walkthrough(started_at=(now + timedelta(minutes=2)).isoformat(), ended_at=None)
    assert post(client, tokens["staff"], skewed).status_code == 201
    future = walkthrough(started_at=(now + timedelta(hours=1)).isoformat(), ended_at=None)
    assert "started_at" in assert_problem(post(client, tokens["staff"], future), 422)["errors"]
    backwards = walkthrough(ended_at="2026-01-05T08:59:00+08:00")
    problem = assert_problem(post(client, tokens["staff"], backwards), 422)
    assert problem["errors"] == {"ended_at": ["结束时间不能早于开始时间"]}
    naive = walkthrough(started_at="2026-01-05T09:00:00")
    assert "started_at" in assert_problem(post(client, tokens["staff"], naive), 422)["errors"]
    assert counts() == (2, 2)


def test_item_must_be_offered_and_minutes_sane(client, tokens):
    problem = assert_problem(post(client, tokens["staff_b"], walkthrough(hall="HZ-XC-HB", item="MZ-001")), 422)
    assert problem["errors"] == {"item": ["该大厅未提供此事项：MZ-001"]}
    problem = assert_problem(post(client, tokens["staff"], walkthrough(findings=[finding(wait_minutes=-3)])), 422)
    assert "等候时长" in problem["errors"]["findings"]["0"]["wait_minutes"][0]
    fid = new_id()
    twice = walkthrough(findings=[finding(id=fid), finding(id=fid)])
    assert assert_problem(post(client, tokens["staff"], twice), 422)["errors"] == {
        "findings": {"1": {"id": ["同一记录中问题编号重复"]}}}
    assert counts() == (0, 0)


def test_a_finding_id_cannot_move_to_another_walkthrough(client, tokens):
    first = walkthrough()
    post(client, tokens["staff"], first)
    thief = walkthrough(findings=[finding(id=first["findings"][0]["id"])])
    problem = assert_problem(post(client, tokens["staff"], thief), 422)
    assert problem["errors"] == {"findings": {"0": {"id": ["该问题编号已属于另一条走流程记录"]}}}
    assert counts() == (1, 1)


# ---- scope ---------------------------------------------------------------------------------------------------
def test_staff_of_one_hall_cannot_read_or_write_another_halls_walkthroughs(client, tokens):
    xc = walkthrough()
    post(client, tokens["staff"], xc)
    stored = snapshot()
    other = tokens["staff_b"]  # 湖滨街道
    for path in (f"/walkthroughs/{xc['id']}", f"/walkthroughs/{xc['id']}/feedback",
                 f"/walkthroughs/{xc['id']}/feedback?format=html"):
        assert_problem(client.get(f"{API}{path}", headers=other), 404, "not_found")
    assert_problem(client.post(f"{API}/walkthroughs/{xc['id']}/submit", headers=other), 404, "not_found")
    # Writing it, whether into its own hall or into the other one, looks like an unknown record.
    assert_problem(post(client, other, {**xc, "summary": "改"}), 404, "not_found")
    assert_problem(post(client, other, {**xc, "hall": "HZ-XC-HB"}), 404, "not_found")
    assert_problem(post(client, other, walkthrough()), 404, "not_found")
    assert sync(client, other, [xc])[0]["outcome"] == "rejected"
    assert client.get(f"{API}/walkthroughs", headers=other).get_json()["items"] == []
    assert_problem(client.get(f"{API}/walkthroughs", query_string={"hall": "HZ-XC"}, headers=other), 404)
    assert snapshot() == stored
    # The district supervisor and the admin see it; the street supervisor does not.
    assert client.get(f"{API}/walkthroughs/{xc['id']}", headers=tokens["supervisor"]).status_code == 200
    assert client.get(f"{API}/walkthroughs/{xc['id']}", headers=tokens["admin"]).status_code == 200
    assert_problem(client.get(f"{API}/walkthroughs/{xc['id']}", headers=tokens["supervisor_jn"]), 404)
    assert_problem(client.get(f"{API}/walkthroughs/{xc['id']}"), 401)
    assert_problem(client.post(f"{API}/sync", json={"walkthroughs": [xc]}), 401)


def test_unknown_and_malformed_ids_are_404(client, tokens):
    assert_problem(client.get(f"{API}/walkthroughs/{new_id()}", headers=tokens["admin"]), 404, "not_found")
    assert_problem(client.get(f"{API}/walkthroughs/not-a-uuid", headers=tokens["admin"]), 404, "not_found")
    assert_problem(client.post(f"{API}/walkthroughs/{new_id()}/submit", headers=tokens["admin"]), 404)


# ---- POST /sync ------------------------------------------------------------------------------------------------
def offline_backlog(n: int) -> list[dict]:
    steps = ["consult", "ticket", "wait", "accept", "submit_docs", "pay", "deliver"]
    return [walkthrough(item="YB-001" if i % 2 else "SB-001", mode="self" if i % 3 else "incognito",
                        citizen={"name": f"李{i}"} if i % 4 else None,
                        status="submitted" if i % 5 == 0 else "draft",
                        findings=[finding(step=steps[(i + j) % len(steps)], wait_minutes=j, handle_minutes=i % 7,
                                          suggestion=f"建议{i}-{j}" if j % 2 else None) for j in range(3)])
            for i in range(n)]


def test_offline_then_sync_twice_gives_identical_stored_data(client, tokens):
    backlog = offline_backlog(20)
    first = sync(client, tokens["staff"], backlog)
    assert [r["outcome"] for r in first] == ["created"] * 20
    assert [r["id"] for r in first] == [w["id"] for w in backlog]
    assert counts() == (20, 60)
    stored = snapshot()
    second = sync(client, tokens["staff"], backlog)
    assert [r["outcome"] for r in second] == ["unchanged"] * 20
    assert snapshot() == stored
    # What a tablet reads back is what it sent (the citizen's name only masked).
    sent = backlog[1]
    view = client.get(f"{API}/walkthroughs/{sent['id']}", headers=tokens["staff"]).get_json()
    assert [(f["id"], f["step"], f["wait_minutes"], f["handle_minutes"], f.get("suggestion"))
            for f in view["findings"]] == [(f["id"], f["step"], f["wait_minutes"], f["handle_minutes"],
                                            f.get("suggestion")) for f in sent["findings"]]


def test_one_bad_record_never_blocks_the_others(client, tokens):
    good = offline_backlog(6)
    other_hall = walkthrough(hall="HZ-XC-HB")
    records = [good[0], {**walkthrough(), "findings": [finding(step="dance")]}, good[1],
               walkthrough(ended_at="2026-01-05T08:00:00+08:00"), good[2], other_hall, "garbage", good[3],
               {**walkthrough(), "stars": 5}, good[4], {"id": 42}, good[5]]
    results = sync(client, tokens["staff"], records)
    outcomes = [r["outcome"] for r in results]
    assert outcomes == ["created", "rejected", "created", "rejected", "created", "rejected", "rejected", "created",
                        "rejected", "created", "rejected", "created"]
    assert "step" in results[1]["errors"]["findings"]["0"]
    assert results[3]["errors"] == {"ended_at": ["结束时间不能早于开始时间"]}
    assert results[5] == {"id": other_hall["id"], "outcome": "rejected", "errors": {"hall": ["未找到该服务大厅"]}}
    assert results[6]["id"] is None and results[10]["id"] is None
    assert results[8]["errors"] == {"stars": ["不支持的字段"]}
    assert all(r["errors"] for r in results if r["outcome"] == "rejected")
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in str(r["errors"])) for r in results if "errors" in r)
    assert counts() == (6, 18)
    # The same batch again: the good ones are unchanged, the bad ones still rejected, nothing new stored.
    assert [r["outcome"] for r in sync(client, tokens["staff"], records)] == [
        o.replace("created", "unchanged") for o in outcomes]
    assert counts() == (6, 18)


def test_a_batch_may_carry_several_versions_of_one_draft(client, tokens):
    v1 = walkthrough()
    v2 = {**v1, "summary": "第二版", "findings": [finding(), finding(step="pay")]}
    results = sync(client, tokens["staff"], [v1, v2, v2, {**v2, "status": "submitted"}, v1])
    assert [r["outcome"] for r in results] == ["created", "updated", "unchanged", "updated", "rejected"]
    view = client.get(f"{API}/walkthroughs/{v1['id']}", headers=tokens["staff"]).get_json()
    assert view["summary"] == "第二版" and view["status"] == "submitted"
    assert [f["id"] for f in view["findings"]] == [f["id"] for f in v2["findings"]]
    assert counts() == (1, 2)


def test_batch_size_and_body_limits(app_factory):
    app = app_factory(SYNC_MAX_BATCH=3, SYNC_MAX_BODY_BYTES=200 * 1024)
    with app.app_context():
        from service import catalog
        from service.accounts import create_account

        catalog.load_demo()
        _, token = create_account(role="staff", hall_code="HZ-XC", name="平板")
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    too_many = client.post(f"{API}/sync", json={"walkthroughs": offline_backlog(4)}, headers=headers)
    problem = assert_problem(too_many, 422, "batch_too_large")
    assert "3" in problem["detail"]
    # Larger than the 64 KiB of an ordinary request, within the sync limit: accepted.
    long = [walkthrough(findings=[finding(description="等" * 1500) for _ in range(12)]) for _ in range(3)]
    response = client.post(f"{API}/sync", json={"walkthroughs": long}, headers=headers)
    assert response.status_code == 200 and [r["outcome"] for r in response.get_json()["results"]] == ["created"] * 3
    single = walkthrough(findings=[finding(description="等" * 2000) for _ in range(12)])  # ~72 KB
    assert_problem(client.post(f"{API}/walkthroughs", json=single, headers=headers), 413, "payload_too_large")
    assert client.post(f"{API}/sync", json={"walkthroughs": [single]}, headers=headers).status_code == 200
    huge = [walkthrough(findings=[finding(description="等" * 2000) for _ in range(40)]) for _ in range(3)]
    problem = assert_problem(client.post(f"{API}/sync", json={"walkthroughs": huge}, headers=headers), 413,
                             "payload_too_large")
    assert "200 千字节" in problem["detail"]
    assert_problem(client.post(f"{API}/sync", json={"records": []}, headers=headers), 422)
    assert_problem(client.post(f"{API}/sync", json={"walkthroughs": {}}, headers=headers), 422)


def test_concurrent_syncs_of_shared_records_store_each_once(app, client, tokens):
    """Four tablets send the same records in different orders at once: one creation each, never a 500."""
    import random

    backlog = offline_backlog(40)
    by_id, failures = {}, []
    barrier = threading.Barrier(4)

    def tablet(seed):
        own = app.test_client()
        mine = random.Random(seed).sample(backlog, len(backlog))
        barrier.wait()
        response = own.post(f"{API}/sync", json={"walkthroughs": mine}, headers=tokens["staff"])
        if response.status_code != 200:
            failures.append(response.get_data(as_text=True))
            return
        for r in response.get_json()["results"]:
            by_id.setdefault(r["id"], []).append(r["outcome"])

    threads = [threading.Thread(target=tablet, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(by_id) == 40
    assert all(sorted(outcomes) == ["created", "unchanged", "unchanged", "unchanged"] for outcomes in by_id.values())
    assert counts() == (40, 120)


# ---- reads -----------------------------------------------------------------------------------------------------
def test_list_filters_and_cursor_pages(client, tokens):
    made = [walkthrough(started_at=f"2026-0{m}-10T09:00:00+08:00", ended_at=None,
                        status="submitted" if m % 2 else "draft") for m in range(1, 6)]
    for record in made:  # one sync each: within a batch the order is the ids' order
        sync(client, tokens["staff"], [record])
    jn = walkthrough(hall="HZ-XC-JN")
    post(client, tokens["supervisor"], jn)

    seen, cursor = [], None
    while True:
        page = client.get(f"{API}/walkthroughs", query_string={"limit": 2, **({"cursor": cursor} if cursor else {})},
                          headers=tokens["staff"]).get_json()
        seen += [w["id"] for w in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [w["id"] for w in reversed(made)]

    def ids(headers=tokens["staff"], **query):
        response = client.get(f"{API}/walkthroughs", query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
        return [w["id"] for w in response.get_json()["items"]]

    assert ids(status="submitted") == [made[4]["id"], made[2]["id"], made[0]["id"]]
    assert ids(**{"from": "2026-02-01", "to": "2026-03-31"}) == [made[2]["id"], made[1]["id"]]
    assert ids(**{"from": "2026-03-10", "to": "2026-03-10"}) == [made[2]["id"]]
    assert set(ids(tokens["supervisor"])) == {w["id"] for w in made} | {jn["id"]}
    assert ids(tokens["supervisor"], hall="HZ-XC-JN") == [jn["id"]]
    item = client.get(f"{API}/walkthroughs", headers=tokens["staff"]).get_json()["items"][0]
    assert item["findings_count"] == 1 and "findings" not in item
    assert_problem(client.get(f"{API}/walkthroughs", query_string={"status": "done"}, headers=tokens["staff"]), 422)
    assert_problem(client.get(f"{API}/walkthroughs", query_string={"from": "2026-03-01", "to": "2026-02-01"},
                              headers=tokens["staff"]), 422)


# ---- 体验反馈表 ------------------------------------------------------------------------------------------------
def test_feedback_form_totals_equal_the_sum_of_findings_minutes(client, tokens):
    findings = [finding(step="accept", category="attitude", severity="high", wait_minutes=None, handle_minutes=12,
                        suggestion="加强窗口人员服务培训"),
                finding(step="wait", wait_minutes=35, handle_minutes=None),
                finding(step="ticket", category="facilities", severity="low", wait_minutes=3, handle_minutes=1,
                        needs_rectification=False),
                finding(step="wait", category="disclosure", wait_minutes=10, handle_minutes=2,
                        suggestion="在等候区公示叫号进度")]
    body = walkthrough(findings=findings, status="submitted")
    post(client, tokens["staff"], body)
    form = client.get(f"{API}/walkthroughs/{body['id']}/feedback", headers=tokens["staff"]).get_json()

    assert form["walkthrough_id"] == body["id"] and form["list_code"] is None
    assert form["hall"] == {"code": "HZ-XC", "name": "西城区政务服务中心"}
    assert form["item"]["name"] == "社会保障卡申领" and form["mode"] == {"code": "accompany", "label": "陪同办"}
    assert form["observer"] == {"name": "王建国", "title": "人社局副局长"}
    assert form["duration_minutes"] == 90 and form["status"] == "submitted"
    # Steps in the order a procedure runs, each with its own minutes; totals are their sums.
    assert [(s["label"], s["wait_minutes"], s["handle_minutes"], len(s["findings"])) for s in form["steps"]] == [
        ("取号", 3, 1, 1), ("等候", 45, 2, 2), ("受理", 0, 12, 1)]
    assert form["totals"]["wait_minutes"] == sum(f["wait_minutes"] or 0 for f in findings) == 48
    assert form["totals"]["handle_minutes"] == sum(f["handle_minutes"] or 0 for f in findings) == 15
    assert form["totals"]["findings"] == 4 and form["totals"]["needs_rectification"] == 3
    assert form["totals"]["by_severity"] == {"low": 1, "medium": 2, "high": 1}
    assert form["steps"][2]["findings"][0]["severity_label"] == "严重"
    assert [s["text"] for s in form["suggestions"]] == ["在等候区公示叫号进度", "加强窗口人员服务培训"]

    page = client.get(f"{API}/walkthroughs/{body['id']}/feedback", query_string={"format": "html"},
                      headers=tokens["staff"])
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for expected in ("体验反馈表", "西城区政务服务中心", "社会保障卡申领", "陪同办", "王建国", "取号", "受理",
                     "加强窗口人员服务培训", ">48<", ">15<", "张**"):
        assert expected in html, expected
    assert "<script" not in html


def test_feedback_html_escapes_what_tablets_typed(client, tokens):
    body = walkthrough(findings=[finding(description="<script>alert(1)</script>")])
    post(client, tokens["staff"], body)
    html = client.get(f"{API}/walkthroughs/{body['id']}/feedback?format=html", headers=tokens["staff"]) \
        .get_data(as_text=True)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert_problem(client.get(f"{API}/walkthroughs/{body['id']}/feedback?format=pdf", headers=tokens["staff"]), 422)


def test_feedback_form_carries_the_rectification_list_code(client, tokens):
    from service import jobruns, rectification_jobs

    body = walkthrough(status="submitted")
    post(client, tokens["staff"], body)
    before = client.get(f"{API}/walkthroughs/{body['id']}/feedback", headers=tokens["staff"]).get_json()
    assert before["list_code"] is None  # the job has not built the list yet
    jobruns.execute("build_walkthrough_lists", rectification_jobs.build_walkthrough_lists)
    form = client.get(f"{API}/walkthroughs/{body['id']}/feedback", headers=tokens["staff"]).get_json()
    listed = client.get(f"{API}/rectification-lists?source=walkthrough", headers=tokens["staff"]).get_json()
    assert form["list_code"] is not None
    assert form["list_code"] in [entry["code"] for entry in listed["items"]]


def test_a_record_stored_by_another_tablet_meanwhile_is_reported_not_a_500(client, tokens, monkeypatch):
    """The unique key decides a race the batch read could not see; the batch then runs again on fresh state."""
    from service import walkthrough_sync as service

    backlog = offline_backlog(5)
    sync(client, tokens["staff"], [backlog[2]])
    real, reads = service._load_batch, []

    def stale_first_read(records):
        batch = real(records)
        if not reads:  # as if another tablet committed backlog[2] right after this read
            batch.stored.clear()
            batch.owner.clear()
        reads.append(len(records))
        return batch

    monkeypatch.setattr(service, "_load_batch", stale_first_read)
    results = sync(client, tokens["staff"], backlog)
    assert [r["outcome"] for r in results] == ["created", "created", "unchanged", "created", "created"]
    assert reads == [5, 5]
    assert counts() == (5, 15)


# ---- values the schema accepts but no database can store -----------------------------------------------------
def _send(client, headers, path, body):
    """JSON with \\u escapes, as a phone's JSON library sends a lone surrogate (the test client would encode it)."""
    return client.post(f"{API}{path}", data=json.dumps(body), content_type="application/json", headers=headers)


def _sync_raw(client, headers, records):
    response = _send(client, headers, "/sync", {"walkthroughs": records})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["results"]


def test_a_record_with_unstorable_values_is_rejected_alone(client, tokens):
    """A lone surrogate (JSON "\\ud800") anywhere, or a time whose conversion to UTC overflows: that record is
    rejected with its errors, the others of the batch are stored."""
    good = offline_backlog(3)
    surrogate = walkthrough(findings=[finding(), finding(description="窗口\ud800太少")])
    ancient = walkthrough(started_at="0001-01-01T00:00:00+14:00", ended_at=None)
    named = walkthrough(observer={"name": "王\udfff"}, summary="ok\ud83d")
    future = walkthrough(started_at="2100-01-01T00:00:00+08:00", ended_at=None)
    results = _sync_raw(client, tokens["staff"], [good[0], surrogate, good[1], ancient, named, future, good[2]])
    assert [r["outcome"] for r in results] == ["created", "rejected", "created", "rejected", "rejected", "rejected",
                                               "created"]
    assert list(results[1]["errors"]) == ["findings"] and list(results[1]["errors"]["findings"]) == ["1"]
    assert "代理项" in results[1]["errors"]["findings"]["1"]["description"][0]
    assert "2000-01-01" in results[3]["errors"]["started_at"][0]
    assert set(results[4]["errors"]) == {"observer", "summary"} and "name" in results[4]["errors"]["observer"]
    assert "started_at" in results[5]["errors"]
    assert counts() == (3, 9)
    single = _send(client, tokens["staff"], "/walkthroughs", surrogate)
    assert assert_problem(single, 422, "validation_error")["errors"]["findings"]["1"]["description"]
    assert counts() == (3, 9)


@pytest.mark.parametrize("fails_in", ["the content hash", "the database write"])
def test_a_value_the_database_refuses_rejects_that_record_only(client, tokens, monkeypatch, fails_in):
    """The safety net behind the checks: were one to let such a value through, the batch is stored record by record
    and only the record that cannot be stored is rejected."""
    from service import walkthrough_sync

    monkeypatch.setattr(walkthrough_sync, "_screen", lambda data: None)
    if fails_in == "the database write":  # a hash that copes, so the value reaches the driver
        monkeypatch.setattr(walkthrough_sync, "content_hash", lambda data: hashlib.sha256(
            json.dumps(walkthrough_sync._canonical(data)).encode()).hexdigest())
    good = offline_backlog(2)
    bad = walkthrough(findings=[finding(description="窗口\ud800太少")])
    results = _sync_raw(client, tokens["staff"], [good[0], bad, good[1], good[0]])
    assert [r["outcome"] for r in results] == ["created", "rejected", "created", "unchanged"]
    assert list(results[1]["errors"]) == ["record"]
    assert counts() == (2, 6)
    assert_problem(_send(client, tokens["staff"], "/walkthroughs", bad), 422, "validation_error")
    assert counts() == (2, 6)
