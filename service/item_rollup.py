"""The rectification items' rollup: the counts of their figures per source day and per month, per hall and window,
staff or item, as the items stood at the rollup's moment, so a year of items reads months × units.

Items change long after their day (verified, submitted, accepted, called back, dismissed by an upheld appeal),
and an open item's deadlines pass with no write at all. So the rollup keeps its moment, the day it judged the
deadlines on, and the sum of the halls' change counters (rectification_changes, bumped by every transaction that
changes items) as it read them before reading any item. A reader then
- reads the days (of a hall) that hold an item changed since that moment from the items themselves; none when no
  counter moved, else every item stamped after the moment less GRACE (a transaction stamps its change before it
  commits, so one committing just after the rollup read may carry an earlier stamp);
- counts again, from the items, those whose deadline passed since the rollup's day (deadlines_passed);
- reads every other day from the rollup: whole months from its month rows, the days at the edges from day rows.
The refresh recomputes just those days, and the months they lie in; every count comes from item_counts, the
definition the live figures use.
"""
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, literal, null, select, tuple_

from models import ItemStats, RectificationChange, RectificationItem, RollupState, db

from . import rectification_metrics
from .rectification_metrics import ITEM_COUNTS, counted_items, deadlines_passed, item_counts
from .rollup_read import UNIT_COLUMNS, months_between, months_within, sums
from .sqlutil import insert, month_start_of
from .timeutil import local_date, now

ITEMS = "items"
GRACE = timedelta(minutes=10)
# Beyond this many changed (day, hall) pairs a reader counts every item itself, and the refresh redoes everything.
MAX_CHANGED = 2000


def _state() -> tuple | None:
    return db.session.execute(select(RollupState.through, RollupState.at, RollupState.seq)
                              .where(RollupState.name == ITEMS, RollupState.at.is_not(None))).first()


def _changes() -> int:
    return db.session.execute(select(func.coalesce(func.sum(RectificationChange.seq), 0))).scalar_one()


def _changed_days(since: datetime, *where) -> set:
    """(source day, hall) of the items stamped after `since`."""
    item = RectificationItem
    return {tuple(row) for row in db.session.execute(select(item.source_on, item.hall_code).distinct().where(
        item.updated_at > since, item.source_on.is_not(None), *where))}


def refresh(moment: datetime) -> dict:
    """Bring the rollup to `moment` (inside the caller's write transaction): the days whose items changed or whose
    deadlines passed since the last refresh, or every day the first time."""
    today, seq, state = local_date(moment), _changes(), _state()
    days = None
    if state is not None and today >= state.through:
        days = _changed_days(state.at - GRACE) if seq != state.seq else set()
        days |= {tuple(row) for row in db.session.execute(
            select(RectificationItem.source_on, RectificationItem.hall_code).distinct()
            .where(deadlines_passed(state.through, today), RectificationItem.source_on.is_not(None)))}
        days = days if len(days) <= MAX_CHANGED else None
    _roll(days, today)
    upsert = insert(RollupState).values(name=ITEMS, through=today, at=moment, seq=seq)
    db.session.execute(upsert.on_conflict_do_update(index_elements=["name"],
                                                    set_={"through": today, "at": moment, "seq": seq}))
    return {"days": "all" if days is None else len(days)}


def _roll(days: set | None, today: date) -> None:
    """Day rows of `days` (all when None) from the items, then the rows of the months they lie in from the days."""
    item, stats = RectificationItem, ItemStats
    if days is not None and not days:
        return
    where = [item.source_on.is_not(None), counted_items()]
    if days is None:
        db.session.execute(delete(stats))
    else:
        where.append(tuple_(item.source_on, item.hall_code).in_(days))
        db.session.execute(delete(stats).where(stats.day.is_not(None), tuple_(stats.day, stats.hall_code).in_(days)))
    columns = ["month", "day", "source", "dimension", "hall_code", "unit", *ITEM_COUNTS]
    for dimension, column in UNIT_COLUMNS.items():
        keys = [item.source_on, item.source, item.hall_code] + ([getattr(item, column)] if column else [])
        rows = select(month_start_of(item.source_on), *keys[:2], literal(dimension), keys[2],
                      keys[3] if column else null(), *item_counts(today)).where(*where).group_by(*keys)
        db.session.execute(insert(stats).from_select(columns, rows))
    month_rows = [stats.day.is_not(None)]
    if days is not None:
        months = {(day.replace(day=1), hall) for day, hall in days}
        db.session.execute(delete(stats).where(stats.day.is_(None), tuple_(stats.month, stats.hall_code).in_(months)))
        month_rows.append(tuple_(stats.month, stats.hall_code).in_(months))
    keys = [stats.month, stats.source, stats.dimension, stats.hall_code, stats.unit]
    rows = select(keys[0], null(), *keys[1:], *(func.sum(getattr(stats, c)) for c in ITEM_COUNTS)) \
        .where(*month_rows).group_by(*keys)
    db.session.execute(insert(stats).from_select(columns, rows))


# ---- reading -------------------------------------------------------------------------------------------------
def _merge(into: dict, rows: dict, sign: int = 1) -> None:
    for key, counts in rows.items():
        old = into.setdefault(key, dict.fromkeys(ITEM_COUNTS, 0))
        for name, value in counts.items():
            old[name] += sign * value


def rows(group_by: str, halls, period, key_of, source: str = "rating") -> dict:
    """{key: counts} as rectification_metrics.by_group counts them from the items, mostly read from the rollup."""
    today = local_date(now())

    def live(*where, on=today):
        return rectification_metrics.by_group(group_by, halls, period, key_of, source, today=on, where=where)

    state = _state()
    if state is None or today < state.through:
        return live()
    item = RectificationItem
    changed = set()
    if _changes() != state.seq:
        changed = _changed_days(state.at - GRACE, item.source == source, item.source_on.between(period.start, period.end),
                                *([item.hall_code.in_(halls)] if halls is not None else []))
        if len(changed) > MAX_CHANGED:
            return live()
    found: dict = {}
    pair = tuple_(item.source_on, item.hall_code)
    if changed:
        _merge(found, live(pair.in_(changed)))
    if today > state.through:  # deadlines passed since the rollup's day, on the items it holds
        passed = [deadlines_passed(state.through, today)] + ([pair.not_in(changed)] if changed else [])
        _merge(found, live(*passed))
        _merge(found, live(*passed, on=state.through), sign=-1)
    for stmt, width in _rolled(group_by, halls, period, source, changed):
        _merge(found, {key_of(tuple(row[:width])): dict(zip(ITEM_COUNTS, (v or 0 for v in row[width:]), strict=True))
                       for row in db.session.execute(stmt)})
    if _state() != state:  # a refresh committed meanwhile (PostgreSQL reads each statement afresh): count again
        return live()
    return found


def _rolled(group_by: str, halls, period, source: str, changed: set) -> list:
    """The statements summing the rollup's rows of the period, less the changed days: month rows for whole months
    (none by day), day rows at the edges and in the months that hold a changed day."""
    stats = ItemStats
    whole, edges = ([], [(period.start, period.end)]) if group_by == "day" else months_within(period.start, period.end)
    touched = {(month, hall) for month, hall in ((d.replace(day=1), h) for d, h in changed) if month in whole}
    base = [stats.source == source]
    statements = []
    if whole:
        kept = [tuple_(stats.month, stats.hall_code).not_in(touched)] if touched else []
        statements.append(sums(stats, stats.month, group_by, ITEM_COUNTS, halls, *base, stats.day.is_(None),
                               stats.month.in_(whole), *kept))
    days = [stats.day.is_not(None)] + ([tuple_(stats.day, stats.hall_code).not_in(changed)] if changed else [])
    for first, last in edges:
        statements.append(sums(stats, stats.day, group_by, ITEM_COUNTS, halls, *base, *days,
                               stats.month.in_(months_between(first, last)), stats.day.between(first, last)))
    if touched:
        statements.append(sums(stats, stats.day, group_by, ITEM_COUNTS, halls, *base, *days,
                               tuple_(stats.month, stats.hall_code).in_(touched)))
    return statements
