"""No personal data in logs: a whole 差评 and walkthrough loop with every logger at DEBUG, SQL parameters and result
rows included, and not one name or phone number of a citizen in what was logged."""
import logging

import pytest

from service import calendar_admin
from tests.helpers import API, register_case
from tests.rect_helpers import act, item_of_rating, run

PHONES = ["13987654321", "15912345678"]
NAMES = ["欧阳春华", "诸葛文", "司徒明月"]


@pytest.fixture
def everything_logged(caplog):
    """Every logger at DEBUG (SQLAlchemy's engine then logs each statement, its parameters and the rows read);
    levels are put back afterwards so other tests keep their quiet logs. Alembic's fileConfig (run by the
    `migrated` fixture) disabled the loggers that existed then, the service's among them: they are enabled too."""
    loggers = [logging.getLogger()] + [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
    caplog.set_level(logging.DEBUG)
    yield caplog
    for lg, level, disabled in saved:
        lg.setLevel(level)
        lg.disabled = disabled


def test_a_full_scenario_logs_no_name_or_phone(app, client, tokens, tmp_path, everything_logged):
    calendar_admin.import_package()
    staff, supervisor = tokens["staff"], tokens["supervisor"]
    # A named 差评 on a registered case, and a named 差评 by hall QR code (a retry with the same key replays).
    case = register_case(client, staff, window="04", staff_no="S042")
    by_case = client.post(f"{API}/ratings", json={
        "rating_token": case["rating_token"], "score": 1, "channel": "miniprogram", "anonymous": False,
        "name": NAMES[0], "phone": PHONES[0], "comment": "材料要求反复变化", "tags": ["QUEUE"]}).get_json()
    qr_body = {"hall": "HZ-XC", "score": 2, "channel": "qrcode", "anonymous": False, "name": NAMES[1],
               "phone": PHONES[1]}
    by_qr = client.post(f"{API}/ratings", json=qr_body, headers={"Idempotency-Key": "privacy-1"}).get_json()
    assert client.post(f"{API}/ratings", json=qr_body, headers={"Idempotency-Key": "privacy-1"}).status_code == 201
    # A phone number in the wrong form is refused, and not logged either.
    assert client.post(f"{API}/ratings", json={**qr_body, "phone": PHONES[1][:-1]}).status_code == 422

    # A walkthrough with a citizen's name, synced twice from a tablet, then submitted.
    walk = {"id": "5d1c0a6e-8a4b-4c59-9a57-0c5f3c6a7b01", "hall": "HZ-XC", "item": "SB-001", "mode": "accompany",
            "observer": {"name": "王建国", "title": "副局长"}, "citizen": {"name": NAMES[2]},
            "started_at": "2026-01-05T09:00:00+08:00", "status": "submitted",
            "findings": [{"id": "5d1c0a6e-8a4b-4c59-9a57-0c5f3c6a7b02", "step": "wait", "category": "efficiency",
                          "description": "等候时间过长", "severity": "medium", "needs_rectification": True}]}
    for _ in range(2):
        assert client.post(f"{API}/sync", json={"walkthroughs": [walk]}, headers=staff).status_code == 200

    for job in ("collect_bad_ratings", "build_walkthrough_lists", "flag_overdue", "close_finished_lists"):
        run(job)
    item = item_of_rating(by_case["id"])
    steps = [("verify", staff, {"resolution": "immediate", "callback_note": "已电话回访"}),
             ("submit", staff, {"measures": "增开窗口", "result": "排队缩短", "answered": True}),
             ("accept", supervisor, {"note": "同意销号"})]
    for version, (action, headers, fields) in enumerate(steps, start=1):
        assert act(client, headers, item.id, action, if_match=version, **fields).status_code == 200
    answer = client.post(f"{API}/ratings/{by_case['id']}/answer-satisfaction",
                         query_string={"receipt": by_case["receipt"]}, json={"score": 2})
    assert answer.status_code == 200

    # Every read that shows these people: the rater's own view, staff lists and details, the feedback form.
    reads = [client.get(f"{API}/ratings/{r['id']}", query_string={"receipt": r["receipt"]}) for r in (by_case, by_qr)]
    reads += [client.get(f"{API}/ratings", headers=staff), client.get(f"{API}/ratings/{by_qr['id']}", headers=staff),
              client.get(f"{API}/walkthroughs/{walk['id']}", headers=staff),
              client.get(f"{API}/walkthroughs/{walk['id']}/feedback", headers=staff),
              client.get(f"{API}/walkthroughs/{walk['id']}/feedback", query_string={"format": "html"}, headers=staff),
              client.get(f"{API}/rectifications", headers=supervisor),
              client.get(f"{API}/rectifications/{item.id}", headers=supervisor)]
    assert [r.status_code for r in reads] == [200] * len(reads)
    assert reads[0].get_json()["phone"] == "139****4321"
    export = app.test_cli_runner().invoke(args=["opendata", "export", str(tmp_path / "open.db")])
    assert export.exit_code == 0, export.output

    logged = everything_logged.text
    # The capture really saw the SQL with its parameters and rows, so an empty log cannot pass this test.
    assert "INSERT INTO ratings" in logged and "INSERT INTO walkthroughs" in logged and "Row (" in logged
    assert "139****4321" in logged and "司**" in logged  # bound parameters are logged: the masked forms are there
    assert "job collect_bad_ratings ok" in logged
    leaked = [value for value in PHONES + NAMES if value in logged]
    assert leaked == [], [line for line in logged.splitlines() if any(v in line for v in leaked)][:5]


def test_phone_and_id_numbers_typed_into_free_text_are_masked_in_every_answer(app, client, tokens):
    """A rater or a handler types a phone or an ID number into a comment or a note: answers show it masked (the
    stored text keeps it; the callback contact is read through its own audited route)."""
    from models import Rating, db

    calendar_admin.import_package()
    typed = "请回电13812345678，身份证110101199003071234"
    rating = client.post(f"{API}/ratings", json={"hall": "HZ-XC", "score": 1, "channel": "web", "comment": typed})
    assert rating.status_code == 201
    rating_id = rating.get_json()["id"]
    assert db.session.get(Rating, rating_id).comment == typed  # kept as given
    run("collect_bad_ratings")
    item = item_of_rating(rating_id)
    assert act(client, tokens["staff"], item.id, "verify", resolution="immediate",
               callback_note="已联系 13912345678").status_code == 200
    answers = [client.get(f"{API}/ratings/{rating_id}", headers=tokens["staff"]).get_data(as_text=True),
               client.get(f"{API}/ratings?hall=HZ-XC", headers=tokens["staff"]).get_data(as_text=True),
               client.get(f"{API}/rectifications/{item.id}", headers=tokens["staff"]).get_data(as_text=True),
               client.get(f"{API}/rectifications", headers=tokens["staff"]).get_data(as_text=True)]
    for text in answers:
        assert "13812345678" not in text and "110101199003071234" not in text and "13912345678" not in text
    assert "138****5678" in answers[0] and "110101********1234" in answers[0]
    assert "139****5678" in answers[2]  # the verify note, in the item's events
