"""Changes to the working-day calendar, and what they move: open deadlines are counted again in the same
transaction as the change."""
from datetime import date, timedelta

from sqlalchemy import select

from models import PublishedYear, WorkCalendarDay, db

from .database import writes
from .errors import ValidationFailed
from .rectification import recount_deadlines
from .sqlutil import insert
from .timeutil import now
from .workdays import SOURCE_ADMIN, SOURCE_PACKAGE, package_exceptions, package_years

# No deadline of at most a few weeks that started more than this before the first changed day can reach it.
DEADLINE_REACH = timedelta(days=90)


@writes
def import_package() -> dict:
    """Seed (or refresh) from chinesecalendar; days an admin has set are never overwritten."""
    rows = package_exceptions()
    existing = {d: (w, src) for d, w, src in db.session.execute(
        select(WorkCalendarDay.day, WorkCalendarDay.is_workday, WorkCalendarDay.source))}
    changed = [r for r in rows if r["day"] not in existing
               or existing[r["day"]][1] == SOURCE_PACKAGE and existing[r["day"]][0] != r["is_workday"]]
    years = sorted({r["day"].year for r in rows})
    recounted = 0
    new_years = _publish(package_years(), SOURCE_PACKAGE)
    if changed:
        table = WorkCalendarDay.__table__
        stamp = now()
        stmt = insert(table).values([{**r, "source": SOURCE_PACKAGE, "updated_at": stamp} for r in rows])
        stmt = stmt.on_conflict_do_update(
            index_elements=["day"],
            set_={"is_workday": stmt.excluded.is_workday, "name": stmt.excluded.name, "updated_at": stamp},
            where=table.c.source == SOURCE_PACKAGE)
        db.session.execute(stmt)
        recounted = _recount(min(r["day"] for r in changed), max(r["day"] for r in changed))
    if new_years and not changed:  # the days were there already (say, entered by hand): the years' deadlines
        recounted = _recount(date(min(new_years), 1, 1), date(max(new_years), 12, 31))
    db.session.commit()
    return {"days": len(rows), "changed": len(changed), "first_year": years[0], "last_year": years[-1],
            "deadlines_changed": recounted}


@writes
def set_day(day: date, is_workday: bool, name: str | None) -> dict:
    """An admin correction (e.g. a newly published year's holiday); open deadlines are counted again."""
    if name is not None and len(name) > 50:
        raise ValidationFailed({"name": ["名称不能超过 50 个字"]})
    table = WorkCalendarDay.__table__
    stamp = now()
    stmt = insert(table).values(day=day, is_workday=is_workday, name=name, source=SOURCE_ADMIN, updated_at=stamp)
    stmt = stmt.on_conflict_do_update(index_elements=["day"], set_={
        "is_workday": is_workday, "name": name, "source": SOURCE_ADMIN, "updated_at": stamp})
    db.session.execute(stmt)
    changed = _recount(day, day)
    db.session.commit()
    return {"day": day.isoformat(), "is_workday": is_workday, "deadlines_changed": changed}




@writes
def publish_year(year: int) -> dict:
    """The admin declares a whole year's calendar entered (its holidays and 调休 days set with `calendar set`):
    deadlines through it stop being provisional, and open deadlines in it are counted again."""
    if not 2000 <= year <= 2100:
        raise ValidationFailed({"year": ["年份应在 2000 到 2100 之间"]})
    _publish([year], SOURCE_ADMIN)
    changed = _recount(date(year, 1, 1), date(year, 12, 31))
    db.session.commit()
    return {"year": year, "deadlines_changed": changed}


def _publish(years: list[int], source: str) -> list[int]:
    """Record years as published (a year already published keeps its first record); returns the new ones."""
    known = set(db.session.execute(select(PublishedYear.year).where(PublishedYear.year.in_(years))).scalars())
    new = [y for y in years if y not in known]
    if new:
        stamp = now()
        db.session.execute(insert(PublishedYear.__table__).values(
            [{"year": y, "source": source, "published_at": stamp} for y in new]).on_conflict_do_nothing())
    return new


def _recount(first: date, last: date) -> int:
    return recount_deadlines(first - DEADLINE_REACH, last)
