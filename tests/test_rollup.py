"""The rollups answer exactly what the ratings, cases and items answer: every /stats figure read through them (whole
months from the monthly rows, edge days from the daily rows, items changed or past a deadline since the refresh
from the items) equals the figure counted straight from the tables with no rollup at all."""
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update

from models import (
    Case,
    DailyUnitStats,
    ItemStats,
    MonthlyUnitStats,
    Rating,
    RectificationChange,
    RectificationItem,
    RectificationList,
    RollupState,
    db,
)
from service import rollup
from service.rectification import STATUSES, mark_changed
from service.timeutil import start_of_day
from tests.helpers import API
from tests.rect_helpers import Clock

FIRST = date(2025, 4, 20)  # data over 80 days: the end of April, May and June whole, the start of July
REFRESHED = date(2025, 7, 15)
HALLS = ("HZ-XC", "HZ-XC-JN", "HZ-XC-HB")
GROUPS = ("hall", "item", "window", "staff", "day", "month", "department")
WALKTHROUGH_GROUPS = ("hall", "item", "department", "day", "month")


def _at(day: date, hour: int = 10) -> datetime:
    return start_of_day(day) + timedelta(hours=hour)


@pytest.fixture
def clock(app, monkeypatch):
    c = Clock(monkeypatch, None)
    c.set(REFRESHED)
    return c


def _empty() -> None:
    for model in (ItemStats, DailyUnitStats, MonthlyUnitStats, RollupState, RectificationChange, RectificationItem,
                  RectificationList, Rating, Case):
        db.session.execute(delete(model))
    db.session.commit()


def _figures(client, headers, periods) -> dict:
    got = {}
    for start, end in periods:
        for source, groups in (("rating", GROUPS), ("walkthrough", WALKTHROUGH_GROUPS)):
            for group_by in groups:
                response = client.get(f"{API}/stats", headers=headers, query_string={
                    "from": start.isoformat(), "to": end.isoformat(), "group_by": group_by, "source": source})
                assert response.status_code == 200, response.get_json()
                got[(start, end, source, group_by)] = response.get_json()["rows"]
    return got


def _live_figures(client, headers, periods) -> dict:
    """The same figures with every rollup forgotten: all read from the tables."""
    db.session.execute(delete(RollupState))
    db.session.commit()
    return _figures(client, headers, periods)


ratings = st.lists(st.tuples(
    st.sampled_from(HALLS), st.sampled_from([None, "01", "02"]), st.sampled_from([None, "S1", "S2"]),
    st.sampled_from([None, "SB-001", "YB-001"]), st.integers(1, 5), st.integers(0, 80),
    st.sampled_from(["plain", "case", "default", "appealed"])), max_size=30)
unrated_cases = st.lists(st.tuples(st.sampled_from(HALLS), st.integers(0, 86)), max_size=5)  # the last ones still open
item_states = st.fixed_dictionaries({
    "status": st.sampled_from(sorted(set(STATUSES) - {"dismissed"})), "due": st.integers(1, 30),
    "verify": st.integers(0, 12), "on_time": st.sampled_from([None, True, False]),
    "verified": st.sampled_from([None, True, False]), "callback": st.booleans(), "named": st.booleans(),
    "wait": st.sampled_from([None, 0, 2]), "answer": st.sampled_from([None, 1, 4])})
periods = st.lists(st.tuples(st.integers(-5, 95), st.integers(0, 40)), min_size=1, max_size=3)


def _seed(data, rows, cases) -> tuple[list[int], list[int]]:
    """Ratings (with their cases), unrated cases, and an item for every effective 差评 and a few walkthrough
    findings, stamped before the refresh. Returns the items' ids and the ids of the 差评 with an item."""
    made = []
    for n, (hall, window, staff, item, score, offset, kind) in enumerate(rows):
        day = FIRST + timedelta(days=offset)
        case = None
        if kind in ("case", "default"):
            done = _at(day - timedelta(days=n % 3), 9)
            case = Case(case_no=f"C{n}", hall_code=hall, item_code=item or "SB-001", window_code=window,
                        staff_no=staff, completed_at=done, rate_before=done + timedelta(days=7),
                        token_hash=f"{n:064d}")
            db.session.add(case)
            db.session.flush()
        rating = Rating(hall_code=hall, item_code=case.item_code if case else item, window_code=window,
                        staff_no=staff, score=3 if kind == "default" else score, channel="web", anonymous=True,
                        is_default=kind == "default", effective=kind != "appealed", created_at=_at(day),
                        rated_on=day, case_id=case.id if case else None)
        db.session.add(rating)
        made.append(rating)
    for n, (hall, offset) in enumerate(cases):
        done = _at(FIRST + timedelta(days=offset), 9)
        db.session.add(Case(case_no=f"U{n}", hall_code=hall, item_code="SB-001", window_code="01", staff_no="S1",
                            completed_at=done, rate_before=done + timedelta(days=7), token_hash=f"u{n:063d}"))
    db.session.flush()
    lst = RectificationList(code="RT-PROP", source="rating", hall_code="HZ-XC", period="2025-W20", status="open")
    db.session.add(lst)
    db.session.flush()
    sources = [("rating", r.id, r) for r in made if r.score <= 2 and r.effective]
    sources += [("walkthrough", f"F{n}", r) for n, r in enumerate(made[:4])]
    items = []
    for source, source_id, rating in sources:
        s = data.draw(item_states)
        stamp = _at(rating.rated_on + timedelta(days=1))
        items.append(RectificationItem(
            list_id=lst.id, source=source, source_id=str(source_id), source_on=rating.rated_on,
            hall_code=rating.hall_code, item_code=rating.item_code,
            window_code=rating.window_code if source == "rating" else None,
            staff_no=rating.staff_no if source == "rating" else None, problem="差评", status=s["status"],
            verify_due=rating.rated_on + timedelta(days=s["verify"]), verified_on_time=s["verified"],
            due_start=rating.rated_on, due_days=5, due_date=rating.rated_on + timedelta(days=s["due"]),
            on_time=s["on_time"], callback_at=stamp if s["callback"] else None, named=s["named"],
            accept_wait_days=s["wait"], rater_satisfaction=s["answer"],
            closed_at=stamp if s["status"] == "closed" else None, created_at=stamp, updated_at=stamp))
    db.session.add_all(items)
    db.session.commit()
    return [i.id for i in items], [int(i.source_id) for i in items if i.source == "rating"]


def _change(data, clock, item_ids, bad_ratings) -> None:
    """After the refresh, as the service writes (every change stamped, the hall's counter bumped): items acted on,
    and appeals upheld (the rating out of every figure, its item dismissed)."""
    for item_id in data.draw(st.lists(st.sampled_from(item_ids), max_size=4, unique=True)) if item_ids else []:
        s = data.draw(item_states)
        # Up to 8 minutes before the clock, which is 5 after the refresh: a transaction may stamp its change before
        # the refresh read the items and commit after it.
        stamp = clock() - timedelta(minutes=data.draw(st.integers(0, 8)))
        db.session.execute(update(RectificationItem).where(RectificationItem.id == item_id).values(
            status=data.draw(st.sampled_from(sorted(STATUSES))), on_time=s["on_time"], verified_on_time=s["verified"],
            callback_at=stamp if s["callback"] else None, accept_wait_days=s["wait"], rater_satisfaction=s["answer"],
            updated_at=stamp))
        mark_changed(stamp)
        db.session.commit()
        clock.moment += timedelta(minutes=1)
    for rating_id in data.draw(st.lists(st.sampled_from(bad_ratings), max_size=2, unique=True)) if bad_ratings else []:
        stamp = clock()
        db.session.execute(update(Rating).where(Rating.id == rating_id).values(effective=False))
        db.session.execute(update(RectificationItem).where(
            RectificationItem.source == "rating", RectificationItem.source_id == str(rating_id)).values(
            status="dismissed", closed_at=stamp, updated_at=stamp))
        mark_changed(stamp)
        db.session.commit()
        clock.moment += timedelta(minutes=1)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), rows=ratings, cases=unrated_cases, spans=periods, later=st.integers(0, 9),
       again=st.none() | st.integers(0, 9))
def test_rolled_figures_equal_the_live_ones(client, tokens, clock, data, rows, cases, spans, later, again):
    _empty()
    clock.set(REFRESHED)
    item_ids, bad_ratings = _seed(data, rows, cases)
    rollup.refresh(clock())
    clock.moment += timedelta(minutes=5)
    _change(data, clock, item_ids, bad_ratings)
    if again is not None:  # refreshed again (as late as the reading): only what changed or passed a deadline
        clock.set(REFRESHED + timedelta(days=min(again, later)), hour=10 if again else 12)
        rollup.refresh(clock())
        clock.moment += timedelta(minutes=5)
        _change(data, clock, item_ids, bad_ratings)
    clock.set(REFRESHED + timedelta(days=later), hour=13)  # deadlines pass; later ratings days become live ones
    chosen = [(FIRST + timedelta(days=a), FIRST + timedelta(days=a + b)) for a, b in spans]
    chosen.append((date(2025, 5, 1), date(2025, 6, 30)))  # two whole months
    headers = tokens["admin"]
    assert _figures(client, headers, chosen) == _live_figures(client, headers, chosen)


def test_item_rollup_is_read_and_a_changed_day_is_read_from_the_items(client, tokens, clock, demo):
    """White box: tampered month rows show (so whole months come from them), until an item of a day and hall changes
    through the service's write path: that month of that hall is then read from its day rows and that day from the
    items; the refresh rolls that month again and leaves the others."""
    rows = [("HZ-XC", "01", "S1", "SB-001", 1, 40, "plain"), ("HZ-XC", "02", "S2", "SB-001", 2, 41, "plain"),
            ("HZ-XC", "01", "S2", "SB-001", 2, 45, "plain"), ("HZ-XC-JN", "01", "S1", "YB-001", 1, 40, "plain")]
    _seed(_Fixed({"status": "pending", "due": 30, "verify": 12, "on_time": None, "verified": None, "callback": False,
                  "named": False, "wait": None, "answer": None}), rows, [])
    rollup.refresh(clock())
    query = {"from": "2025-05-01", "to": "2025-06-30", "group_by": "hall"}  # May and June, whole

    def items():
        got = client.get(f"{API}/stats", query_string=query, headers=tokens["admin"]).get_json()["rows"]
        return {r["key"]: r["items"] for r in got}

    def tamper(*where):
        db.session.execute(update(ItemStats).where(ItemStats.dimension == "hall", *where)
                           .values(items=ItemStats.items + 100))
        db.session.commit()

    assert items() == {"HZ-XC": 3, "HZ-XC-JN": 1}  # May 30 and 31, June 4; May 30
    tamper(ItemStats.day.is_(None))
    assert items() == {"HZ-XC": 102 + 101, "HZ-XC-JN": 101}
    clock.moment += timedelta(hours=1)
    first = db.session.query(RectificationItem).filter_by(hall_code="HZ-XC", source_on=FIRST + timedelta(days=40),
                                                          source="rating").one()
    first.callback_at = first.updated_at = clock()
    mark_changed(clock())
    db.session.commit()
    # HZ-XC's May: May 31 from its day row, May 30 from the items; its June and HZ-XC-JN's May still month rows.
    assert items() == {"HZ-XC": 1 + 1 + 101, "HZ-XC-JN": 101}
    rollup.refresh(clock())  # HZ-XC's May rolled again from its days; the other month rows kept as they were
    tamper(ItemStats.day.is_not(None))  # day rows are no longer read: nothing changed since the refresh
    assert items() == {"HZ-XC": 2 + 101, "HZ-XC-JN": 101}


class _Fixed:
    """Stands in for hypothesis' `data` with the same item state every time."""

    def __init__(self, state: dict):
        self.state = state

    def draw(self, _strategy):
        return self.state
