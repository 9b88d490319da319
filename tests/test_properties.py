"""Hypothesis properties: working-day deadlines on any calendar, and the rectification state machine under any
sequence of actions by any role, with fresh, stale or no If-Match."""
from datetime import date, timedelta

import chinese_calendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models import ItemEvent, RectificationItem, db
from service import calendar_admin, workdays
from service.workdays import WorkCalendar
from tests.rect_helpers import act, fresh, make_rating, run

# Function-scoped fixtures are fine here: every example works on rows of its own (a new item, or a calendar
# built in memory), so nothing one example leaves behind changes what another one checks.
PROPERTY = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# ---- working days --------------------------------------------------------------------------------------------
YEARS = range(2024, 2029)
days_in = st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31))


@st.composite
def calendars(draw) -> WorkCalendar:
    """A calendar like the table makes: some years published, each with its own holidays and make-up days."""
    published = draw(st.sets(st.sampled_from(YEARS)))
    exceptions = {}
    for year in published:
        # Every published year has at least one exception (that is how load() knows it is published); whole weeks
        # off, as around 春节 and 国庆, are what stretch a deadline.
        for day in draw(st.lists(st.dates(date(year, 1, 1), date(year, 12, 31)), min_size=1, max_size=25)):
            exceptions[day] = day.weekday() >= 5  # a weekday holiday or a weekend make-up workday
        for start in draw(st.lists(st.dates(date(year, 1, 1), date(year, 12, 24)), max_size=2)):
            for i in range(8):
                if (start + timedelta(i)).year == year:
                    exceptions[start + timedelta(i)] = False
    return WorkCalendar(exceptions, {d.year for d in exceptions})


@PROPERTY
@given(cal=calendars(), start=days_in, n=st.integers(1, 20))
def test_a_deadline_is_the_nth_working_day_strictly_after_the_start(cal, start, n):
    found = cal.add_working_days(start, n)
    assert found.due > start
    assert cal.is_workday(found.due)
    between = [start + timedelta(i) for i in range(1, (found.due - start).days + 1)]
    assert sum(cal.is_workday(d) for d in between) == n  # exactly N working days in (start, due]
    # Provisional exactly when a counted day falls in a year with no published calendar.
    assert found.provisional == any(d.year not in cal.published_years for d in between)
    later = cal.add_working_days(start, n + 1)
    assert later.due > found.due
    assert later.provisional >= found.provisional  # counting further never un-flags a deadline


@PROPERTY
@given(cal=calendars(), start=days_in, n=st.integers(1, 20))
def test_a_later_start_never_gives_an_earlier_deadline(cal, start, n):
    assert cal.add_working_days(start + timedelta(days=1), n).due >= cal.add_working_days(start, n).due


@pytest.fixture
def imported(app):
    calendar_admin.import_package()
    last = max(d.year for d in chinese_calendar.holidays)
    return last


def _oracle_workday(day: date, last_published: int) -> bool:
    """The package's own answer where it knows the year, Mon–Fri after that."""
    if day.year <= last_published:
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5


@PROPERTY
@given(start=st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 6, 30)), n=st.integers(1, 20))
def test_deadlines_from_the_table_match_the_state_council_calendar(imported, start, n):
    found = workdays.deadline(start, n)
    day, counted = start, 0
    while counted < n:
        day += timedelta(days=1)
        counted += _oracle_workday(day, imported)
    assert found.due == day
    assert found.provisional == (found.due.year > imported)


# ---- the rectification state machine ---------------------------------------------------------------------------
# The table of API.md, written out again here (not imported) so a change to the code that the contract does not
# share is caught: action → (from, to, least role).
TABLE = {
    "verify": ({"pending"}, "rectifying", "staff"),
    "appeal": ({"pending", "rectifying"}, "appealed", "staff"),
    "uphold_appeal": ({"appealed"}, "dismissed", "supervisor"),
    "deny_appeal": ({"appealed"}, "rectifying", "supervisor"),
    "submit": ({"rectifying"}, "awaiting_acceptance", "staff"),
    "accept": ({"awaiting_acceptance"}, "closed", "supervisor"),
    "reject": ({"awaiting_acceptance"}, "rectifying", "supervisor"),
    "reopen": ({"closed"}, "rectifying", "supervisor"),
}
STATUSES = {"pending", "rectifying", "awaiting_acceptance", "closed", "appealed", "dismissed"}
RANK = {"staff": 0, "supervisor": 1, "admin": 2}
ROLE_OF = {"staff": "staff", "staff_b": "staff", "supervisor": "supervisor", "admin": "admin"}
FIELDS = {"verify": {"resolution": "immediate", "callback_note": "已电话回访"}, "appeal": {"note": "评价人当天未来办事，疑似恶意差评"},
          "uphold_appeal": {"note": "申诉成立"}, "deny_appeal": {"note": "申诉不成立"}, "submit": {"measures": "增开窗口", "result": "排队缩短", "answered": True}, "reject": {"note": "措施不具体"},
          "reopen": {"note": "回头看"}}

# Repeated entries weigh the draw towards requests that can succeed, so sequences get deep into the table.
steps = st.lists(st.tuples(
    st.sampled_from(sorted(TABLE)),
    st.sampled_from(["admin", "admin", "supervisor", "supervisor", "staff", "staff_b"]),  # staff_b: another hall
    st.sampled_from(["none", "none", "current", "current", "stale", "ahead", "garbage"]),
    st.sampled_from([True, True, True, False]),            # the action's required fields sent or left out
), min_size=1, max_size=14)


def _state(item_id: int) -> tuple[str, int, list[tuple]]:
    fresh()
    item = db.session.get(RectificationItem, item_id)
    events = db.session.execute(select(ItemEvent.action, ItemEvent.from_status, ItemEvent.to_status)
                                .where(ItemEvent.item_id == item_id).order_by(ItemEvent.id)).all()
    return item.status, item.version, [tuple(e) for e in events]


def _expected(status: str, version: int, action: str, who: str, match: str, complete: bool) -> int:
    """The answer the contract promises, in the order checks are made: If-Match syntax, scope, role, version,
    state, fields."""
    sources, _, least = TABLE[action]
    if match == "garbage":
        return 400
    if who == "staff_b":
        return 404
    if RANK[ROLE_OF[who]] < RANK[least]:
        return 403
    if match in ("stale", "ahead"):
        return 412
    if status not in sources:
        return 409
    if not complete and action in FIELDS:  # every action in FIELDS has a required field
        return 422
    return 200


@pytest.mark.slow
@PROPERTY
@given(sequence=steps)
def test_any_action_sequence_keeps_the_item_consistent(client, tokens, sequence):
    rating = make_rating(score=1)
    run("collect_bad_ratings")
    fresh()
    item_id = db.session.execute(select(RectificationItem.id).where(
        RectificationItem.source_id == str(rating["id"]))).scalar_one()
    status, version, events = _state(item_id)
    assert (status, version, [e[0] for e in events]) == ("pending", 1, ["create"])

    for action, who, match, complete in sequence:
        if_match = {"none": None, "current": version, "stale": version - 1, "ahead": version + 1,
                    "garbage": "v-x"}[match]
        fields = FIELDS.get(action, {}) if complete else {}
        response = act(client, tokens[who], item_id, action, if_match=if_match, **fields)
        expected = _expected(status, version, action, who, match, complete)
        assert response.status_code == expected, (status, action, who, match, complete, response.get_json())
        after = _state(item_id)
        assert after[0] in STATUSES
        if expected != 200:
            assert after == (status, version, events), "a refused action changed the item"
            if expected == 409:
                allowed = [a for a, (src, _, least) in TABLE.items()
                           if status in src and RANK[ROLE_OF[who]] >= RANK[least]]
                assert response.get_json()["allowed_actions"] == allowed
            if expected == 412:
                assert response.get_json()["current_version"] == version
            continue
        target = TABLE[action][1]
        # Exactly one new event, with the right from and to; the version moves by exactly one.
        assert after == (target, version + 1, events + [(action, status, target)])
        body = response.get_json()
        assert (body["status"], body["version"]) == (target, version + 1)
        status, version, events = after
