"""Keeps the rollups in step, so year-long statistics read months × units, not every rating: ratings and cases
per day and per whole month (per hall, and per hall and window, staff or item), and the rectification items
(service/item_rollup.py).

A day's ratings are final once the day is over (with a few minutes' grace for requests still committing);
a day's cases are final once every case of it is rated or past its rating window. Days after those
watermarks are read live, so figures stay exact for today. The only later change to a rating, an upheld
appeal (effective → false), is subtracted by the readers, so rolled days never need rewriting for it.
"""
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import delete, func, literal, literal_column, null, select, true

from models import Case, DailyUnitStats, MonthlyUnitStats, Rating, RollupState, db

from . import item_rollup
from .counts import CASE_COUNTS, RATING_COUNTS, case_counts, rating_counts
from .database import writes
from .rollup_read import UNIT_COLUMNS, last_whole_month_end
from .sqlutil import insert, local_date_of, month_start_of
from .timeutil import SHANGHAI, end_of_day, now, start_of_day

RATINGS, CASES = "ratings", "cases"
RATINGS_SETTLE_AFTER_MIDNIGHT = time(0, 10)
COUNTS = RATING_COUNTS + CASE_COUNTS


def watermarks() -> dict[str, date | None]:
    rows = dict(db.session.execute(select(RollupState.name, RollupState.through)
                                   .where(RollupState.name.in_((RATINGS, CASES)))).all())
    return {RATINGS: rows.get(RATINGS), CASES: rows.get(CASES)}


def final_days(moment: datetime) -> tuple[date, date]:
    """(last final day of ratings, last final day of cases) as of this moment."""
    local = moment.astimezone(SHANGHAI)
    today = local.date()
    # A day's ratings are final ten minutes after midnight, once requests still committing have landed.
    ratings_final = today - timedelta(days=1 if local.time() >= RATINGS_SETTLE_AFTER_MIDNIGHT else 2)
    window = current_app.config["RATING_WINDOW_DAYS"]
    return ratings_final, min(ratings_final, today - timedelta(days=window + 1))


@writes
def refresh(moment: datetime | None = None) -> dict:
    """Recompute the days that are not yet final in the rollups (all of them the first time), the months they fall
    in, and the items' rollup. Idempotent."""
    moment = moment or now()
    done = _refresh_days(moment)
    done["items"] = item_rollup.refresh(moment)
    db.session.commit()
    return done


def _refresh_days(moment: datetime) -> dict:
    ratings_final, cases_final = final_days(moment)
    # Everything after the older watermark is recomputed: the cases columns of those days may have changed.
    start_after = watermarks()[CASES]
    lo = (start_after + timedelta(days=1)) if start_after else None
    if lo is not None and lo > ratings_final:
        return {"days": 0}
    unit = DailyUnitStats
    db.session.execute(delete(unit).where(*([unit.day >= lo] if lo else [])))
    columns = ["day", "dimension", "hall_code", "unit", *COUNTS]
    rated_filter = [Rating.rated_on <= ratings_final] + ([Rating.rated_on >= lo] if lo else [])
    case_filter = [Case.completed_at <= end_of_day(ratings_final)] + (
        [Case.completed_at >= start_of_day(lo)] if lo else [])
    day = local_date_of(Case.completed_at)
    zero = literal_column("0")
    for dimension, column in UNIT_COLUMNS.items():
        keys = [Rating.rated_on, Rating.hall_code] + ([getattr(Rating, column)] if column else [])
        ratings_agg = (select(keys[0], literal(dimension), keys[1], keys[2] if column else null(),
                              *rating_counts(), zero, zero).where(*rated_filter).group_by(*keys))
        db.session.execute(insert(unit).from_select(columns, ratings_agg))
        keys = [day, Case.hall_code] + ([getattr(Case, column)] if column else [])
        cases_agg = (select(keys[0], literal(dimension), keys[1], keys[2] if column else null(),
                            zero, zero, zero, *case_counts(moment, true()))
                     .select_from(Case).outerjoin(Rating, Rating.case_id == Case.id)
                     .where(*case_filter).group_by(*keys))
        db.session.execute(insert(unit).from_select(columns, cases_agg))
    _refresh_months(lo, ratings_final)
    for name, through in ((RATINGS, ratings_final), (CASES, cases_final)):
        upsert = insert(RollupState).values(name=name, through=through)
        db.session.execute(upsert.on_conflict_do_update(index_elements=["name"], set_={"through": through}))
    return {"from": lo.isoformat() if lo else None, "through": ratings_final.isoformat()}


def _refresh_months(lo: date | None, ratings_final: date) -> None:
    """The months from lo's on, as sums of their days, for the months whose every day is rolled up."""
    first, last = (lo.replace(day=1) if lo else None), last_whole_month_end(ratings_final)
    month = MonthlyUnitStats
    db.session.execute(delete(month).where(*([month.month >= first] if first else [])))
    if first is not None and first > last:
        return
    daily = DailyUnitStats
    keys = [month_start_of(daily.day), daily.dimension, daily.hall_code, daily.unit]
    sums = (select(*keys, *(func.sum(getattr(daily, name)) for name in COUNTS))
            .where(daily.day <= last, *([daily.day >= first] if first else [])).group_by(*keys))
    db.session.execute(insert(month).from_select(["month", "dimension", "hall_code", "unit", *COUNTS], sums))
