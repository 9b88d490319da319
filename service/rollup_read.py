"""How readers take sums from the rollups: a range as whole months plus the days at its edges, the key columns of a
grouping in a rollup table, and the statement summing its rows."""
from datetime import date, timedelta

from sqlalchemy import func, select

from models import ServiceItem

from . import catalog
from .sqlutil import month_of

# The dimensions of every rollup, each with the rating, case and item column its unit is (a hall's own rows: none).
UNIT_COLUMNS = {"hall": None, "window": "window_code", "staff": "staff_no", "item": "item_code"}


def next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def last_whole_month_end(day: date) -> date:
    """The last day of the last month that ends on or before `day`."""
    return day if next_month(day) - timedelta(days=1) == day else day.replace(day=1) - timedelta(days=1)


def months_within(start: date, end: date) -> tuple[list[date], list[tuple[date, date]]]:
    """(the first days of the months wholly inside [start, end], the (first, last) day ranges outside them)."""
    first = start if start.day == 1 else next_month(start)
    stop = last_whole_month_end(end) + timedelta(days=1)  # the day after the last whole month
    if first >= stop:
        return [], [(start, end)]
    months = months_between(first, stop - timedelta(days=1))
    edges = ([(start, first - timedelta(days=1))] if start < first else []) + ([(stop, end)] if stop <= end else [])
    return months, edges


def months_between(first: date, last: date) -> list[date]:
    """The first days of the months that [first, last] touches."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def keys_of(group_by: str, table, when) -> tuple[str, list]:
    """(the dimension whose rows answer `group_by`, the key columns) in a rollup table; `when` is its day or month
    column. A hall's own rows answer hall, day and month; a department is its items' (joined by `sums`)."""
    if group_by in ("hall", "day", "month"):
        return "hall", [{"hall": table.hall_code, "day": when, "month": month_of(when)}[group_by]]
    if group_by == "item":
        return "item", [table.unit]
    if group_by == "department":
        return "item", [ServiceItem.department]
    return group_by, [table.hall_code, table.unit]  # window, staff: keyed by hall like the live rows


def sums(table, when, group_by: str, names, halls, *where) -> tuple:
    """(SELECT the keys and the sum of each named column over the rows of the grouping's dimension, key width)."""
    dimension, keys = keys_of(group_by, table, when)
    stmt = (select(*keys, *(func.sum(getattr(table, name)) for name in names))
            .where(table.dimension == dimension, *where).group_by(*keys))
    stmt = catalog.with_department(stmt, group_by, table, table.unit)
    if halls is not None:
        stmt = stmt.where(table.hall_code.in_(halls))
    return stmt, len(keys)
