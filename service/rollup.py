"""Keeps the daily rollups (per hall; per hall and window, staff or item) in step, so year-long statistics read
days × units, not every rating.

A day's ratings are final once the day is over (with a few minutes' grace for requests still committing);
a day's cases are final once every case of it is rated or past its rating window. Days after those
watermarks are read live, so figures stay exact for today. The only later change to a rating, an upheld
appeal (effective → false), is subtracted by the readers, so rolled days never need rewriting for it.
"""
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import and_, case, delete, func, literal, literal_column, or_, select

from models import Case, DailyHallStats, DailyUnitStats, Rating, RollupState, db

from .database import writes
from .sqlutil import insert, local_date_of
from .timeutil import SHANGHAI, end_of_day, now, start_of_day
from .vocab import BAD_MAX_SCORE

RATINGS, CASES = "ratings", "cases"
ZERO = literal_column("0")
RATINGS_SETTLE_AFTER_MIDNIGHT = time(0, 10)
# The per-unit rollup's dimensions and the rating (and case) column each one is keyed by, beside the hall.
UNIT_COLUMNS = {"window": "window_code", "staff": "staff_no", "item": "item_code"}
UNIT_DIMENSIONS = tuple(UNIT_COLUMNS)


def watermarks() -> dict[str, date | None]:
    rows = dict(db.session.execute(select(RollupState.name, RollupState.through)).all())
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
    """Recompute the days that are not yet final in the rollup (all of them the first time). Idempotent."""
    moment = moment or now()
    ratings_final, cases_final = final_days(moment)
    marks = watermarks()
    # Everything after the older watermark is recomputed: the cases columns of those days may have changed.
    start_after = marks[CASES]
    lo = (start_after + timedelta(days=1)) if start_after else None
    if lo is not None and lo > ratings_final:
        return {"days": 0}
    db.session.execute(delete(DailyHallStats).where(*([DailyHallStats.day >= lo] if lo else [])))
    rated_filter = [Rating.rated_on <= ratings_final] + ([Rating.rated_on >= lo] if lo else [])
    ratings_agg = (select(Rating.rated_on, Rating.hall_code, func.count(),
                          func.sum(case((Rating.score <= BAD_MAX_SCORE, 1), else_=0)),
                          func.sum(case((Rating.score > BAD_MAX_SCORE, 1), else_=0)),
                          ZERO, ZERO)
                   .where(*rated_filter).group_by(Rating.rated_on, Rating.hall_code))
    columns = ["day", "hall_code", "ratings", "bad", "good", "cases_due", "cases_active"]
    db.session.execute(insert(DailyHallStats).from_select(columns, ratings_agg))

    day = local_date_of(Case.completed_at)
    rated = Rating.id.is_not(None)
    case_filter = [Case.completed_at <= end_of_day(ratings_final)] + (
        [Case.completed_at >= start_of_day(lo)] if lo else [])
    cases_agg = (select(day, Case.hall_code, ZERO, ZERO,
                        ZERO,
                        func.sum(case((or_(rated, Case.rate_before <= moment), 1), else_=0)),
                        func.sum(case((and_(rated, Rating.is_default.is_(False)), 1), else_=0)))
                 .select_from(Case).outerjoin(Rating, Rating.case_id == Case.id)
                 .where(*case_filter).group_by(day, Case.hall_code))
    stmt = insert(DailyHallStats).from_select(columns, cases_agg)
    stmt = stmt.on_conflict_do_update(index_elements=["day", "hall_code"],
                                      set_={"cases_due": stmt.excluded.cases_due,
                                            "cases_active": stmt.excluded.cases_active})
    db.session.execute(stmt)
    _refresh_units(lo, ratings_final, moment)
    for name, through in ((RATINGS, ratings_final), (CASES, cases_final)):
        upsert = insert(RollupState).values(name=name, through=through)
        db.session.execute(upsert.on_conflict_do_update(index_elements=["name"], set_={"through": through}))
    db.session.commit()
    return {"from": lo.isoformat() if lo else None, "through": ratings_final.isoformat()}


def _refresh_units(lo: date | None, ratings_final: date, moment: datetime) -> None:
    """The same days per hall and unit of each dimension: ratings rows, then cases rows, summed by the readers."""
    unit = DailyUnitStats
    db.session.execute(delete(unit).where(*([unit.day >= lo] if lo else [])))
    columns = ["day", "dimension", "hall_code", "unit", "ratings", "bad", "good", "cases_due", "cases_active"]
    rated_filter = [Rating.rated_on <= ratings_final] + ([Rating.rated_on >= lo] if lo else [])
    day = local_date_of(Case.completed_at)
    rated = Rating.id.is_not(None)
    case_filter = [Case.completed_at <= end_of_day(ratings_final)] + (
        [Case.completed_at >= start_of_day(lo)] if lo else [])
    for dimension in UNIT_DIMENSIONS:
        keys = (Rating.rated_on, literal(dimension), Rating.hall_code, getattr(Rating, UNIT_COLUMNS[dimension]))
        ratings_agg = (select(*keys, func.count(), func.sum(case((Rating.score <= BAD_MAX_SCORE, 1), else_=0)),
                              func.sum(case((Rating.score > BAD_MAX_SCORE, 1), else_=0)), ZERO, ZERO)
                       .where(*rated_filter).group_by(keys[0], keys[2], keys[3]))
        db.session.execute(insert(unit).from_select(columns, ratings_agg))
        keys = (day, literal(dimension), Case.hall_code, getattr(Case, UNIT_COLUMNS[dimension]))
        cases_agg = (select(*keys, ZERO, ZERO, ZERO,
                            func.sum(case((or_(rated, Case.rate_before <= moment), 1), else_=0)),
                            func.sum(case((and_(rated, Rating.is_default.is_(False)), 1), else_=0)))
                     .select_from(Case).outerjoin(Rating, Rating.case_id == Case.id)
                     .where(*case_filter).group_by(keys[0], keys[2], keys[3]))
        db.session.execute(insert(unit).from_select(columns, cases_agg))
