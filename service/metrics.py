"""Metrics of the 好差评 practice (好评率, 差评率, 主动评价率, 整改 rates), computed by SQL aggregates.

Formulas are DESIGN.md's and are the contract. Only effective ratings count: an upheld appeal removes a
rating (and its case and rectification item) from every figure.
"""
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, case, func, or_, select, true

from models import Case, DailyUnitStats, Hall, MonthlyUnitStats, Rating, RatingTag, ServiceItem, Tag, Window, db

from . import auth, catalog, item_rollup, rollup, rollup_read
from .auth import Principal
from .counts import CASE_COUNTS, RATING_COUNTS, case_counts, rating_counts
from .errors import ValidationFailed
from .sqlutil import local_date_of, month_of
from .timeutil import end_of_day, local_date, now, start_of_day
from .vocab import BAD_MAX_SCORE, one_of

GROUPS = {"hall": "按大厅", "item": "按事项", "window": "按窗口", "staff": "按工作人员", "day": "按日", "month": "按月",
          "department": "按部门"}
SOURCES = {"rating": "好差评", "walkthrough": "走流程"}
# Walkthrough items name a hall, an item (so a department) and their submission day, never a window or staff.
WALKTHROUGH_GROUPS = ("hall", "item", "department", "day", "month")
WALKTHROUGH_GROUPING = ("走流程整改事项不分窗口和工作人员，统计走流程时"
                        + one_of("分组方式", {g: GROUPS[g] for g in WALKTHROUGH_GROUPS}))
# Figures that only ratings (and the raters of 差评) have: null in walkthrough rows, where nobody rated anything.
RATING_ONLY = ("ratings", "bad", "good_rate", "bad_rate", "active_rate", "callback_rate", "answer_satisfaction",
               "named_callback_rate")


@dataclass(frozen=True)
class Period:
    start: date
    end: date


def period_of(start: date | None, end: date | None) -> Period:
    """Inclusive calendar dates in Asia/Shanghai; by default the current month up to today."""
    today = local_date(now())
    end = end or today
    start = start or end.replace(day=1)
    if start > end:
        raise ValidationFailed({"from": ["开始日期不能晚于结束日期"]})
    return Period(start, end)


def halls_in_scope(principal: Principal, hall: str | None) -> frozenset[str] | None:
    """The halls a query covers: a named hall means it and every hall under it, within the caller's scope."""
    if hall is None:
        return principal.halls
    principal.check_hall(hall)
    catalog.get_hall(hall)
    tree = auth.subtree(hall)
    return tree if principal.halls is None else tree & principal.halls


def rate(numerator, denominator) -> float | None:
    if not denominator:
        return None
    return round(numerator / denominator, 4)


# ---- grouping ----------------------------------------------------------------------------------------------
def _rating_keys(group_by: str):
    if group_by == "hall":
        return [Rating.hall_code]
    if group_by == "item":
        return [Rating.item_code]
    if group_by == "window":
        return [Rating.hall_code, Rating.window_code]
    if group_by == "staff":
        return [Rating.hall_code, Rating.staff_no]
    if group_by == "day":
        return [Rating.rated_on]
    if group_by == "department":
        return [ServiceItem.department]
    return [month_of(Rating.rated_on)]


def _case_keys(group_by: str):
    if group_by == "hall":
        return [Case.hall_code]
    if group_by == "item":
        return [Case.item_code]
    if group_by == "window":
        return [Case.hall_code, Case.window_code]
    if group_by == "staff":
        return [Case.hall_code, Case.staff_no]
    if group_by == "day":
        return [local_date_of(Case.completed_at)]
    if group_by == "department":
        return [ServiceItem.department]
    return [func.substr(func.cast(local_date_of(Case.completed_at), db.String), 1, 7)]


def _key(group_by: str, values: tuple) -> str | None:
    """Window and staff rows are keyed by hall (`HALL/WINDOW`, `HALL/STAFF_NO`); a rating that names no window
    (or no staff) is counted in its hall's own row, keyed `HALL`, so rows of different halls never merge."""
    values = tuple(v.isoformat() if isinstance(v, date) else (None if v is None else str(v)) for v in values)
    if group_by in ("window", "staff"):
        return values[0] if values[1] is None else f"{values[0]}/{values[1]}"
    return values[0]


def _labels(group_by: str, keys) -> dict:
    keys = [k for k in keys if k is not None]
    if group_by == "hall":
        return dict(db.session.execute(select(Hall.code, Hall.name).where(Hall.code.in_(keys))).all())
    if group_by == "item":
        return dict(db.session.execute(select(ServiceItem.code, ServiceItem.name)
                                       .where(ServiceItem.code.in_(keys))).all())
    if group_by in ("window", "staff"):
        halls = dict(db.session.execute(select(Hall.code, Hall.name)).all())
        windows = {f"{h}/{w}": n for h, w, n in db.session.execute(select(Window.hall_code, Window.code, Window.name))}
        labels = {}
        for k in keys:
            hall, _, unit = k.partition("/")
            if not unit:
                part = _UNSPECIFIED[group_by]
            else:
                part = windows.get(k, unit) if group_by == "window" else f"工号{unit}"
            labels[k] = f"{halls.get(hall, hall)} {part}".strip()
        return labels
    return {k: k for k in keys}


_UNSPECIFIED = {"item": "未指定事项", "window": "未指定窗口", "staff": "未指定工作人员", "department": "未指定部门"}


# ---- the aggregates ----------------------------------------------------------------------------------------
def _rating_filter(halls, period: Period, effective: bool = True):
    conditions = [Rating.effective.is_(effective), Rating.rated_on >= period.start, Rating.rated_on <= period.end]
    if halls is not None:
        conditions.append(Rating.hall_code.in_(halls))
    return and_(*conditions)


def _collect(stmt, width, group_by) -> dict:
    return {_key(group_by, tuple(row[:width])): tuple(row[width:]) for row in db.session.execute(stmt)}


def _merge(into: dict, rows: dict, sign: int = 1) -> dict:
    for key, values in rows.items():
        old = into.get(key, (0,) * len(values))
        into[key] = tuple(a + sign * (b or 0) for a, b in zip(old, values, strict=True))
    return into


def _split(period: Period, through: date | None) -> tuple[Period | None, Period | None]:
    """(days read from the rollup, days read live)."""
    if through is None or period.start > through:
        return None, period
    if period.end <= through:
        return period, None
    return Period(period.start, through), Period(through + timedelta(days=1), period.end)


def _rating_counts(group_by, halls, period, effective=True):
    keys = _rating_keys(group_by)
    stmt = select(*keys, *rating_counts()).where(_rating_filter(halls, period, effective)).group_by(*keys)
    stmt = catalog.with_department(stmt, group_by, Rating, Rating.item_code)
    return _collect(stmt, len(keys), group_by)


def _rollup_counts(group_by, halls, period, names):
    """Sums of the named counts over rolled days: whole months from the monthly rollup (not by day), the other days
    from the daily one. Only rows that count any (the first name's count: a rating, a case due), so that a unit
    has a row exactly when it has one counted live."""
    rows = {}
    months, edges = ([], [(period.start, period.end)]) if group_by == "day" else \
        rollup_read.months_within(period.start, period.end)
    if months:
        table = MonthlyUnitStats
        _merge(rows, _collect(*rollup_read.sums(table, table.month, group_by, names, halls, table.month.in_(months),
                                                getattr(table, names[0]) > 0), group_by))
    for first, last in edges:
        table = DailyUnitStats
        _merge(rows, _collect(*rollup_read.sums(table, table.day, group_by, names, halls, table.day.between(first, last),
                                                getattr(table, names[0]) > 0), group_by))
    return rows


def _rating_rows(group_by, halls, period):
    """{key: (ratings, bad, good)} over effective ratings; long periods come mostly from the rollups."""
    rolled, live = _split(period, rollup.watermarks()[rollup.RATINGS])
    rows = _rating_counts(group_by, halls, live) if live else {}
    if rolled:
        _merge(rows, _rollup_counts(group_by, halls, rolled, RATING_COUNTS))
        _merge(rows, _rating_counts(group_by, halls, rolled, effective=False), sign=-1)
        # A unit whose only ratings an appeal took out has no row, as when counted live.
        rows = {key: counts for key, counts in rows.items() if counts[0]}
    return rows


def _case_counts(group_by, halls, period, dismissed_only=False):
    """主动评价率: non-default ratings / cases that were rated or whose rating window has closed."""
    keys = _case_keys(group_by)
    in_period = [Case.completed_at >= start_of_day(period.start), Case.completed_at <= end_of_day(period.end)]
    if dismissed_only:
        # Cases whose rating an upheld appeal took out (the rollup counted them): read from those few ratings (a
        # case is rated on or after the day it was completed).
        stmt = (select(*keys, *case_counts(now(), true())).select_from(Rating).join(Case, Case.id == Rating.case_id)
                .where(Rating.effective.is_(False), Rating.rated_on >= period.start, *in_period))
    else:
        stmt = (select(*keys, *case_counts(now(), Rating.effective.is_(True)))
                .select_from(Case).outerjoin(Rating, Rating.case_id == Case.id).where(*in_period))
    stmt = catalog.with_department(stmt.group_by(*keys), group_by, Case, Case.item_code)
    if halls is not None:
        stmt = stmt.where(Case.hall_code.in_(halls))
    return _collect(stmt, len(keys), group_by)


def _case_rows(group_by, halls, period):
    rolled, live = _split(period, rollup.watermarks()[rollup.CASES])
    rows = _case_counts(group_by, halls, live) if live else {}
    if rolled:
        _merge(rows, _rollup_counts(group_by, halls, rolled, CASE_COUNTS))
        _merge(rows, _case_counts(group_by, halls, rolled, dismissed_only=True), sign=-1)
    return rows


def _item_rows(group_by, halls, period, source="rating"):
    """The rectification figures of 差评 items (or of walkthrough items), mostly from the items' rollup."""
    return item_rollup.rows(group_by, halls, period, lambda values: _key(group_by, values), source=source)


def _check_grouping(group_by: str, source: str) -> None:
    if group_by not in GROUPS:
        raise ValidationFailed({"group_by": [one_of("分组方式", GROUPS)]})
    if source not in SOURCES:
        raise ValidationFailed({"source": [one_of("统计来源", SOURCES)]})
    if source == "walkthrough" and group_by not in WALKTHROUGH_GROUPS:
        raise ValidationFailed({"group_by": [WALKTHROUGH_GROUPING]})


def stats(principal: Principal, *, hall: str | None, start: date | None, end: date | None,
          group_by: str = "hall", source: str = "rating") -> list[dict]:
    """Rows of figures per group. `source="walkthrough"`: the 整改率 and 按期整改率 of walkthrough items, whose
    rating figures (RATING_ONLY) are null; `items` is the number of rectification items counted in each row."""
    _check_grouping(group_by, source)
    period = period_of(start, end)
    halls = halls_in_scope(principal, hall)
    walkthrough = source == "walkthrough"
    ratings = {} if walkthrough else _rating_rows(group_by, halls, period)
    cases = {} if walkthrough else _case_rows(group_by, halls, period)
    items = _item_rows(group_by, halls, period, source)
    keys = set(ratings) | set(cases) | set(items)
    labels = _labels(group_by, keys)
    rows = []
    for key in sorted(keys, key=lambda k: (k is None, k or "")):
        n, bad, good = ratings.get(key, (0, 0, 0))
        due, active = cases.get(key, (0, 0))
        it = items.get(key, {})
        rows.append({
            "key": key, "label": labels.get(key) or _UNSPECIFIED.get(group_by, key),
            "ratings": n, "bad": bad,
            "good_rate": rate(good, n), "bad_rate": rate(bad, n), "active_rate": rate(active, due),
            "rectified_rate": rate(it.get("closed", 0), it.get("items", 0)),
            "on_time_rate": rate(it.get("on_time", 0), it.get("on_time_base", 0)),
            "callback_rate": rate(it.get("called_back", 0), it.get("items", 0)),
            "answer_satisfaction": rate(it.get("satisfied", 0), it.get("answers", 0)),
            "verify_on_time_rate": rate(it.get("verified_on_time", 0), it.get("verify_base", 0)),
            "named_callback_rate": rate(it.get("named_called_back", 0), it.get("named", 0)),
            "accept_wait_days": rate(it.get("accept_wait_days", 0), it.get("accepted", 0)),
        })
        rows[-1]["items"] = it.get("items", 0)
        if walkthrough:
            rows[-1].update((name, None) for name in RATING_ONLY if name in rows[-1])
    return rows


TAG_GROUPS = {"bad": "差评", "good": "非差评"}


def _tag_group(score_column, group: str):
    return score_column <= BAD_MAX_SCORE if group == "bad" else score_column > BAD_MAX_SCORE


def tag_stats(principal: Principal, *, hall: str | None, start: date | None, end: date | None) -> dict:
    """Each tag's count and 占比 over the ratings that could carry it, as the published survey tables give them:
    a bad tag among the 差评, a good tag among the other ratings, an `any` tag among all; default ratings (which
    carry no tags) are left out. Each group also reports the ratings that carry none of its tags (以上均无)."""
    period = period_of(start, end)
    halls = halls_in_scope(principal, hall)
    where = and_(_rating_filter(halls, period), Rating.is_default.is_(False))
    bad, total = db.session.execute(select(func.sum(case((Rating.score <= BAD_MAX_SCORE, 1), else_=0)), func.count())
                                    .select_from(Rating).where(where)).one()
    bad = bad or 0
    bases = {"bad": bad, "good": total - bad, "any": total}
    tags = db.session.execute(select(Tag).order_by(Tag.code)).scalars().all()
    kinds = {t.code: t.applies_to for t in tags}
    # Counted inside the tag's own group: a bad tag on a 基本满意 rating is outside the 差评 group it describes.
    in_group = or_(Tag.applies_to == "any", and_(Tag.applies_to == "bad", _tag_group(Rating.score, "bad")),
                   and_(Tag.applies_to == "good", _tag_group(Rating.score, "good")))
    counts = dict(db.session.execute(
        select(RatingTag.tag_code, func.count()).join(Rating, Rating.id == RatingTag.rating_id)
        .join(Tag, Tag.code == RatingTag.tag_code).where(where, in_group).group_by(RatingTag.tag_code)).all())
    items = [{"code": t.code, "label": t.label, "applies_to": t.applies_to, "count": counts.get(t.code, 0),
              "base": bases[t.applies_to], "share": rate(counts.get(t.code, 0), bases[t.applies_to])} for t in tags]
    items.sort(key=lambda i: (-i["count"], i["code"]))
    groups = []
    for group, label in TAG_GROUPS.items():
        own = [code for code, kind in kinds.items() if kind in (group, "any")]
        tagged = select(RatingTag.rating_id).where(RatingTag.rating_id == Rating.id, RatingTag.tag_code.in_(own))
        untagged = db.session.execute(select(func.count()).select_from(Rating).where(
            where, _tag_group(Rating.score, group), ~tagged.exists())).scalar_one()
        groups.append({"applies_to": group, "label": label, "ratings": bases[group], "none": untagged,
                       "none_share": rate(untagged, bases[group])})
    return {"from": period.start, "to": period.end, "ratings": total, "items": items, "groups": groups}
