"""Working days: real 2025/2026 holidays and 调休 Saturdays, the Mon–Fri rule for unpublished years, admin edits."""
from datetime import date

import pytest

from service import calendar_admin, workdays
from tests.rect_helpers import item_of_rating, make_rating, run


@pytest.fixture
def calendar(app):
    return calendar_admin.import_package()


def test_import_covers_every_published_year_and_is_idempotent(calendar):
    assert calendar["first_year"] <= 2025 and calendar["last_year"] >= 2026
    again = calendar_admin.import_package()
    assert again["days"] == calendar["days"]
    cal = workdays.load(date(2026, 1, 1))
    assert not cal.is_workday(date(2026, 10, 1)) and cal.is_workday(date(2026, 10, 10))  # 国庆, 调休 Saturday


@pytest.mark.parametrize("start, n, due", [
    (date(2025, 9, 30), 1, date(2025, 10, 9)),    # 国庆中秋 2025: 10/1–10/8 off
    (date(2025, 9, 26), 1, date(2025, 9, 28)),    # Sunday 9/28 is a 调休 workday
    (date(2025, 1, 24), 2, date(2025, 1, 27)),    # Sunday 1/26 works; 1/28 starts 春节
    (date(2026, 2, 13), 1, date(2026, 2, 14)),    # Saturday 2/14 is a 调休 workday before 春节
    (date(2026, 2, 13), 5, date(2026, 2, 27)),    # 2/15–2/23 off
    (date(2026, 9, 30), 5, date(2026, 10, 13)),   # 10/1–10/7 off, Saturday 10/10 works
    (date(2026, 6, 12), 15, date(2026, 7, 6)),    # 端午 6/19 off: 15 days reach the Monday
])
def test_deadlines_follow_the_state_council_calendar(calendar, start, n, due):
    found = workdays.deadline(start, n)
    assert (found.due, found.provisional) == (due, False)


def test_deadline_from_december_2026_into_unpublished_2027(calendar):
    # 2027 has no published calendar: Mon–Fri count, so New Year's Day (a Friday) counts, and it is provisional.
    inside = workdays.deadline(date(2026, 12, 28), 3)
    assert (inside.due, inside.provisional) == (date(2026, 12, 31), False)
    across = workdays.deadline(date(2026, 12, 28), 5)
    assert (across.due, across.provisional) == (date(2027, 1, 4), True)
    assert workdays.deadline(date(2027, 3, 5), 1) == workdays.Deadline(date(2027, 3, 8), True)


def test_no_calendar_at_all_is_monday_to_friday_and_provisional(app):
    found = workdays.deadline(date(2026, 10, 1), 1)  # the table is empty: 国庆 is unknown
    assert (found.due, found.provisional) == (date(2026, 10, 2), True)


def test_admin_sets_a_day_and_open_deadlines_are_counted_again(app, demo, calendar):
    from tests.rect_helpers import count

    rating = make_rating()
    run("collect_bad_ratings")
    item = item_of_rating(rating["id"])
    target = item.due_date
    runner = app.test_cli_runner()
    result = runner.invoke(args=["calendar", "set", target.isoformat(), "--holiday", "--name", "临时调整"])
    assert result.exit_code == 0, result.output
    assert "重新计算期限的事项 1 个" in result.output
    moved = item_of_rating(rating["id"])
    assert moved.due_date > target and moved.version == item.version
    from models import ItemEvent

    assert count(ItemEvent, ItemEvent.item_id == item.id, ItemEvent.action == "deadline_changed") == 1
    # The package never overwrites an admin's day.
    calendar_admin.import_package()
    assert workdays.load(target).is_workday(target) is False
    bad = runner.invoke(args=["calendar", "set", "2027-13-01", "--workday"])
    assert bad.exit_code != 0


def test_one_day_does_not_publish_a_year_the_whole_year_does(app, demo, calendar):
    """`calendar set` of one day of 2027 leaves 2027 provisional; `calendar publish 2027` publishes it, and the open
    deadlines through it are counted again (their provisional flag cleared)."""
    runner = app.test_cli_runner()
    assert workdays.deadline(date(2026, 12, 31), 1).provisional
    assert runner.invoke(args=["calendar", "set", "2027-01-01", "--holiday", "--name", "元旦"]).exit_code == 0
    found = workdays.deadline(date(2026, 12, 31), 1)
    assert (found.due, found.provisional) == (date(2027, 1, 4), True)  # one day is not a calendar

    from models import RectificationItem, db
    from service.timeutil import now

    rating = make_rating(at=now())
    run("collect_bad_ratings")
    assert item_of_rating(rating["id"]).status == "pending"
    db.session.execute(db.update(RectificationItem).values(due_start=date(2027, 3, 1), due_days=5,
                                                           due_date=date(2027, 3, 8), due_provisional=True))
    db.session.commit()
    result = runner.invoke(args=["calendar", "publish", "2027"])
    assert result.exit_code == 0 and "重新计算期限的事项 1 个" in result.output, result.output
    assert workdays.deadline(date(2026, 12, 31), 1) == workdays.Deadline(date(2027, 1, 4), False)
    moved = item_of_rating(rating["id"])
    assert (moved.due_date, moved.due_provisional) == (date(2027, 3, 8), False)
    assert "已导入" in runner.invoke(args=["calendar", "import"]).output
    assert runner.invoke(args=["calendar", "publish", "1999"]).exit_code != 0


def test_a_holiday_set_on_the_verify_day_moves_both_clocks(app, demo, calendar):
    rating = make_rating()
    run("collect_bad_ratings")
    item = item_of_rating(rating["id"])
    verify_due, due = item.verify_due, item.due_date
    runner = app.test_cli_runner()
    assert runner.invoke(args=["calendar", "set", verify_due.isoformat(), "--holiday"]).exit_code == 0
    moved = item_of_rating(rating["id"])
    assert moved.verify_due > verify_due and moved.due_start == moved.verify_due and moved.due_date > due
    assert moved.due_date == workdays.deadline(moved.verify_due, moved.due_days).due
