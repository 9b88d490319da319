"""Set-based job bodies: 差评 and walkthrough findings into rectification items, overdue flags, list closing,
default ratings. Each is INSERT … SELECT / UPDATE over the new rows only, idempotent through unique keys."""
from datetime import date, datetime, timedelta

from sqlalchemy import String, and_, case, cast, exists, func, literal, or_, select, update

from models import Case, Finding, Hall, ItemEvent, Rating, RatingTag, Tag, Walkthrough, db
from models.rectification import RectificationItem, RectificationList

from . import outbox, workdays
from .rectification import CLOCK_STATUSES, CLOSED_STATUSES, first_deadlines, mark_changed, rectify_days
from .sqlutil import insert, joined, settled_below
from .timeutil import local_date
from .vocab import BAD_MAX_SCORE, DEFAULT_SCORE, FINDING_CATEGORIES, LEVELS

SYSTEM = "系统"
ITEM_COLUMNS = ["list_id", "source", "source_id", "source_on", "hall_code", "named", "item_code", "window_code", "staff_no", "problem",
                "category", "category_label", "status", "verify_due", "due_start", "due_days", "due_date", "due_provisional", "version",
                "created_at", "updated_at"]
EVENT_COLUMNS = ["item_id", "at", "actor", "action", "from_status", "to_status", "note"]


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def rating_list_code(hall: str, period: str) -> str:
    return f"RT-{hall}-{period}"


def walkthrough_list_prefix(hall: str, day: date) -> str:
    """`WT-HZXC-20261201-`: a code people can read out, the hall without its dashes and the submission day."""
    return f"WT-{hall.replace('-', '')}-{day:%Y%m%d}-"


def _walkthrough_codes(fresh: list, starts: dict) -> dict:
    """{walkthrough id: list code}, numbered per hall and day after the codes already given (the job runs once at a
    time under the scheduler lease; the codes' unique key guards the rest)."""
    codes, taken = {}, {}
    for w, hall, _ in sorted(fresh, key=lambda f: (starts[f[0]], f[2].timestamp() if f[2] else 0, f[0])):
        prefix = walkthrough_list_prefix(hall, starts[w])
        if prefix not in taken:
            used = db.session.execute(select(RectificationList.code).where(
                RectificationList.code.like(prefix + "%"))).scalars().all()
            taken[prefix] = max((int(c.rsplit("-", 1)[1]) for c in used if c.rsplit("-", 1)[1].isdigit()), default=0)
        taken[prefix] += 1
        codes[w] = f"{prefix}{taken[prefix]:02d}"
    return codes


def _tag_labels():
    """The labels of a rating's tags joined with 、 (null when it has none)."""
    return (select(joined(Tag.label, "、", Tag.code)).select_from(RatingTag).join(Tag, Tag.code == RatingTag.tag_code)
            .where(RatingTag.rating_id == Rating.id).scalar_subquery())


def _inserted(stmt, key) -> int:
    """Rows an INSERT really wrote (ON CONFLICT skipped the rest); rowcount is not reliable for every driver."""
    return len(db.session.execute(stmt.returning(key)).all())


def _by_day(column, mapping: dict, else_=None):
    """A CASE over a handful of distinct days: per-day values computed once in Python, applied in SQL."""
    return case(mapping, value=column, else_=else_)


def _created_events(source: str, stamp: datetime, note: str) -> None:
    """The 'created' event of every item this run inserted (they all carry the run's timestamp)."""
    item = RectificationItem
    db.session.execute(ItemEvent.__table__.insert().from_select(EVENT_COLUMNS, select(
        item.id, literal(stamp, ItemEvent.at.type), literal(SYSTEM), literal("create"), literal(None, String),
        literal("pending"), literal(note)).where(item.updated_at == stamp, item.created_at == stamp,
                                                 item.source == source)))


QUIET_CHECK = 1000  # up to this many 差评 in a run's window are checked by key before the whole insert path runs


def _all_collected(new) -> bool:
    """Whether every 差评 matched by `new` already has its item, read by key for a small batch: on PostgreSQL a
    run's window starts at the oldest transaction still running at the last run, so it holds 差评 collected then,
    and a quiet run would otherwise redo the whole insert path for them on every tick."""
    ids = [str(i) for i in db.session.execute(select(Rating.id).where(new).limit(QUIET_CHECK + 1)).scalars()]
    if len(ids) > QUIET_CHECK:
        return False
    if not ids:
        return True
    done = db.session.execute(select(func.count()).select_from(RectificationItem).where(
        RectificationItem.source == "rating", RectificationItem.source_id.in_(ids))).scalar_one()
    return done == len(ids)


# ---- 差评 → items on the hall's list for the rating's ISO week -------------------------------------------
def collect_bad_ratings(*, now: datetime, watermark: dict | None) -> tuple[dict, dict]:
    """The 差评 written since the last run become items.

    On SQLite those above the last run's top id: one writer at a time makes the id order the commit order. On
    PostgreSQL a rating's id comes from a sequence when the row is written, so a held-up rating commits after
    ratings with higher ids, however many, and after a run that took those. There a rating carries the id of the
    transaction that wrote it (`txid`), and a run takes every rating written by a transaction from the oldest one
    still running at the last run (sqlutil.settled_below): the late rating's transaction is among them. Committed
    ratings of later transactions are taken at once (an open transaction holds none back) and looked at once more
    by the next run; the items' unique key (ON CONFLICT DO NOTHING) keeps that, and a run repeated after a crash,
    free of duplicates.

    No NOT EXISTS anti-join: on PostgreSQL, with statistics not yet gathered (a fresh or bulk-loaded database), the
    planner ran it as a nested loop over the items heap, which the INSERT itself keeps growing, so a first run was
    quadratic (30,000 差评 took minutes); the unique index is always used by ON CONFLICT."""
    settled = settled_below()
    if settled is None:
        seen = (watermark or {}).get("rating_id", 0)
        top = db.session.execute(select(func.max(Rating.id))).scalar() or seen
        window, mark = [Rating.id > seen, Rating.id <= top], {"rating_id": top}
    else:
        window, mark = [Rating.txid >= (watermark or {}).get("txid", 0)], {"txid": settled}
    new = and_(*window, Rating.score <= BAD_MAX_SCORE, Rating.effective.is_(True), Rating.is_default.is_(False))
    counts = {"items_created": 0, "lists_created": 0}
    if _all_collected(new):
        return counts, mark
    pairs = db.session.execute(select(Rating.hall_code, Rating.rated_on).distinct().where(new)).all()

    days = sorted({d for _, d in pairs})
    calendar = workdays.load(days[0], days[-1])
    first = {d: first_deadlines(d, calendar) for d in days}
    n = rectify_days(None)
    period = {d: iso_week(d) for d in days}
    lists = sorted({(h, period[d]) for h, d in pairs})
    counts["lists_created"] = _inserted(insert(RectificationList.__table__).values([
        {"code": rating_list_code(h, p), "source": "rating", "hall_code": h, "period": p, "status": "open",
         "created_at": now} for h, p in lists]).on_conflict_do_nothing(), RectificationList.id)

    # A 差评 without a comment says what is known: its level and the labels of its tags.
    level = case({s: f"差评（{LEVELS[s][1]}）：" for s in LEVELS if s <= BAD_MAX_SCORE}, value=Rating.score)
    label = level + func.coalesce(_tag_labels(), "未填写评价内容")
    first_tag = select(func.min(RatingTag.tag_code)).where(RatingTag.rating_id == Rating.id).scalar_subquery()
    first_label = (select(Tag.label).select_from(RatingTag).join(Tag, Tag.code == RatingTag.tag_code)
                   .where(RatingTag.rating_id == Rating.id).order_by(Tag.code).limit(1).scalar_subquery())
    lst = RectificationList
    # A correlated lookup on the lists' unique (source, hall, period) key: the scan is driven by the new ratings.
    list_id = select(lst.id).where(lst.source == "rating", lst.hall_code == Rating.hall_code,
                                   lst.period == _by_day(Rating.rated_on, period)).scalar_subquery()
    rows = select(
        list_id, literal("rating"), cast(Rating.id, String(36)), Rating.rated_on, Rating.hall_code,
        and_(Rating.anonymous.is_(False), Rating.phone_enc.is_not(None)), Rating.item_code,
        Rating.window_code, Rating.staff_no, func.coalesce(func.nullif(Rating.comment, ""), label), first_tag, first_label,
        literal("pending"), _by_day(Rating.rated_on, {d: v for d, (v, _) in first.items()}),
        _by_day(Rating.rated_on, {d: v for d, (v, _) in first.items()}), literal(n),
        _by_day(Rating.rated_on, {d: f.due for d, (_, f) in first.items()}),
        _by_day(Rating.rated_on, {d: f.provisional for d, (_, f) in first.items()}),
        literal(1), literal(now, RectificationItem.created_at.type), literal(now, RectificationItem.updated_at.type),
    ).where(new)
    stmt = insert(RectificationItem.__table__).from_select(ITEM_COLUMNS, rows).on_conflict_do_nothing()
    counts["items_created"] = _inserted(stmt, RectificationItem.id)
    _created_events("rating", now, "差评自动生成整改事项，待回访核实")
    outbox.items_created(now)  # events out: rectification.created (转办), same transaction
    # A late 差评 of an earlier week reopens that week's list if it had already been closed.
    db.session.execute(update(lst).where(lst.status == "closed", lst.id.in_(
        select(RectificationItem.list_id).where(RectificationItem.updated_at == now,
                                                RectificationItem.created_at == now)))
                       .values(status="open", closed_at=None).execution_options(synchronize_session=False))
    mark_changed(now)
    return counts, mark


# ---- submitted walkthrough → one list, an item per finding that needs rectification -------------------------
def build_walkthrough_lists(*, now: datetime, watermark: dict | None) -> tuple[dict, dict | None]:
    lst = RectificationList
    # Walkthroughs are few and can be submitted long after they were created (offline tablets), so the unique
    # walkthrough_id of the lists, not a watermark, says which ones are new.
    fresh = db.session.execute(select(Walkthrough.id, Walkthrough.hall_code, Walkthrough.submitted_at).where(
        Walkthrough.status == "submitted", ~exists().where(lst.walkthrough_id == Walkthrough.id))).all()
    counts = {"lists_created": 0, "items_created": 0}
    if not fresh:
        return counts, None
    starts = {w: local_date(at or now) for w, _, at in fresh}
    codes = _walkthrough_codes(fresh, starts)
    counts["lists_created"] = _inserted(insert(lst.__table__).values([
        {"code": codes[w], "source": "walkthrough", "hall_code": h, "walkthrough_id": w,
         "status": "open", "created_at": now} for w, h, _ in fresh]).on_conflict_do_nothing(), lst.id)

    calendar = workdays.load(min(starts.values()), max(starts.values()))
    first = {w: first_deadlines(s, calendar) for w, s in starts.items()}
    n = rectify_days(None)
    rows = select(
        lst.id, literal("walkthrough"), Finding.id, _by_day(Walkthrough.id, starts), Walkthrough.hall_code,
        literal(False), Walkthrough.item_code,
        literal(None, String), literal(None, String), Finding.description, Finding.category,
        case(FINDING_CATEGORIES, value=Finding.category), literal("pending"),
        _by_day(Walkthrough.id, {w: v for w, (v, _) in first.items()}),
        _by_day(Walkthrough.id, {w: v for w, (v, _) in first.items()}), literal(n),
        _by_day(Walkthrough.id, {w: f.due for w, (_, f) in first.items()}),
        _by_day(Walkthrough.id, {w: f.provisional for w, (_, f) in first.items()}), literal(1),
        literal(now, RectificationItem.created_at.type), literal(now, RectificationItem.updated_at.type),
    ).select_from(Finding).join(Walkthrough, Walkthrough.id == Finding.walkthrough_id).join(
        lst, lst.walkthrough_id == Walkthrough.id).where(lst.created_at == now, Finding.needs_rectification.is_(True))
    counts["items_created"] = _inserted(
        insert(RectificationItem.__table__).from_select(ITEM_COLUMNS, rows).on_conflict_do_nothing(),
        RectificationItem.id)
    _created_events("walkthrough", now, "走流程发现问题，生成整改事项，待核实")
    outbox.items_created(now)  # events out: rectification.created (转办), same transaction
    mark_changed(now)
    return counts, None


# ---- lists whose every item is closed ------------------------------------------------------------------------
def close_finished_lists(*, now: datetime, watermark: dict | None) -> tuple[dict, None]:
    lst, item = RectificationList, RectificationItem
    this_week = iso_week(local_date(now))
    # A rating list stays open until its week is over: more 差评 of that week may still arrive.
    done = db.session.execute(update(lst).where(
        lst.status == "open", or_(lst.source == "walkthrough", lst.period < this_week),
        ~exists().where(item.list_id == lst.id, item.status.not_in(CLOSED_STATUSES)))
        .values(status="closed", closed_at=now).execution_options(synchronize_session=False)).rowcount
    outbox.lists_closed(now)  # events out: list.closed, same transaction
    return {"lists_closed": done}, None


# ---- deadlines passed ----------------------------------------------------------------------------------------
def flag_overdue(*, now: datetime, watermark: dict | None) -> tuple[dict, None]:
    item = RectificationItem
    late = and_(item.status.in_(CLOCK_STATUSES), item.due_date < local_date(now), item.overdue_flagged_at.is_(None))
    db.session.execute(ItemEvent.__table__.insert().from_select(EVENT_COLUMNS, select(
        item.id, literal(now, ItemEvent.at.type), literal(SYSTEM), literal("overdue"), item.status, item.status,
        literal("已超过整改期限") + literal("（") + cast(item.due_date, String) + literal("）")).where(late)))
    # The flag changes what pollers see (`overdue`), so updated_at moves; the version (for If-Match) does not.
    flagged = db.session.execute(update(item).where(late).values(overdue_flagged_at=now, updated_at=now)
                                 .execution_options(synchronize_session=False)).rowcount
    outbox.items_overdue(now)  # events out: rectification.overdue, same transaction
    if flagged:
        mark_changed(now)
    return {"items_flagged": flagged}, None


# ---- unrated cases past their window get the hall's default rating -------------------------------------------
def default_ratings(*, now: datetime, watermark: dict | None) -> tuple[dict, dict]:
    mark = watermark or {}
    since = mark.get("now")
    last_case = mark.get("case_id", 0)
    top_case = db.session.execute(select(func.max(Case.id))).scalar() or 0
    due = [Case.rate_before <= now, Case.id <= top_case,
           ~exists().where(Rating.case_id == Case.id)]
    if since:
        # Windows that closed since the last run (a day of overlap), and cases registered since then (their
        # window may already have closed when they were registered).
        overlap = datetime.fromisoformat(since) - timedelta(days=1)
        due.append(or_(Case.rate_before > overlap, Case.id > last_case))
    rows = select(
        Case.id, Case.hall_code, Case.item_code, Case.window_code, Case.staff_no, literal(DEFAULT_SCORE),
        literal("system"), literal(True), literal(True), literal(True), literal(now, Rating.created_at.type),
        literal(local_date(now), Rating.rated_on.type),
    ).join(Hall, and_(Hall.code == Case.hall_code, Hall.default_rating_enabled.is_(True))).where(*due)
    stmt = insert(Rating.__table__).from_select(
        ["case_id", "hall_code", "item_code", "window_code", "staff_no", "score", "channel", "anonymous",
         "is_default", "effective", "created_at", "rated_on"], rows).on_conflict_do_nothing()
    made = _inserted(stmt, Rating.id)
    outbox.default_ratings_created(now)  # events out: rating.created of each default rating, same transaction
    return {"default_ratings": made}, {"now": now.isoformat(), "case_id": top_case}
