"""好差评 intake and reads: one rating per case, retries never double-count, personal data encrypted and masked."""
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from models import Rating, RatingTag, db

from . import cases, catalog, follow_ups, idempotency, outbox, ratelimit, rectification
from .auth import Principal
from .errors import Conflict, NotFound, ServiceError, ValidationFailed
from .pagination import keyset_page
from .receipts import receipt_for, receipt_matches
from .security import encrypt, mask_name, mask_phone
from .sqlutil import PlainStatements, plain_statements
from .timeutil import end_of_day, local_date, now, start_of_day
from .vocab import BAD_MAX_SCORE, TAG_APPLIES, is_bad, tag_fits


@dataclass(frozen=True)
class Client:
    ip: str
    client_id: str | None = None


@dataclass(frozen=True)
class Created:
    """A stored rating as its 201 shows it (the schema derives level, level_label and is_bad from the score)."""
    id: int
    score: int
    created_at: datetime
    receipt: str
    replayed: bool = False


# ---- intake ------------------------------------------------------------------------------------------------
# Every public rating takes this path, so it runs on plain statements (compiled once, on a pooled DBAPI connection)
# rather than the Session: its reads come first, outside any write transaction, and the write transaction holds
# SQLite's writer lock only for the statements that write: the rate-limit counters (ratings without a case), the
# rating (which carries its Idempotency-Key) and its tags.
def submit(data: dict, *, client: Client, idempotency_key: str | None, raw_body) -> Created:
    """Store one rating, or answer a retry of one.

    A retry under the same Idempotency-Key (same client, see service.idempotency) is looked for only when the rating
    is refused: by the key's own unique index (the first attempt was stored), by the case's (another rating won),
    or by any other refusal (409, 429, a 422 after a catalog change). A live first rating then wins, and the same
    key with another body is 409 `idempotency_key_reused`. So a first attempt, nearly every request, costs no
    lookup. A key whose rating is older than the TTL is let go in the write transaction of the new rating."""
    key = idempotency.check_key(idempotency_key)
    scope = digest = None
    if key:
        scope = idempotency.scope_of(data.get("rating_token"), client.ip, client.client_id)
        digest = idempotency.request_hash(raw_body)
    release_expired = False
    with plain_statements() as sql:
        while True:
            case_id = None
            try:
                values, tag_codes = _build(sql, data)
                case_id = values["case_id"]
                values.update(idempotency_scope=scope, idempotency_key=key, request_hash=digest)
                rating_id = _store(sql, values, tag_codes, client, release_expired)
                return Created(rating_id, values["score"], values["created_at"], receipt_for(rating_id))
            except (ServiceError, IntegrityError) as refusal:
                sql.rollback()
                if key:
                    prior, expired = idempotency.lookup(sql, scope, key, digest, now())
                    if prior is not None:
                        return Created(prior.id, prior.score, prior.created_at, receipt_for(prior.id), replayed=True)
                    if expired and isinstance(refusal, IntegrityError) and not release_expired:
                        release_expired = True  # the key's old rating is past the TTL: a new request, once more
                        continue
                if case_id is not None and _case_rated(sql, case_id):  # a concurrent rating of the case won
                    raise Conflict("该办件已评价，每个办件只能评价一次", code="already_rated") from None
                raise


def _store(sql: PlainStatements, values: dict, tag_codes: list[str], client: Client, release_expired: bool) -> int:
    """The write transaction of one rating; returns its id."""
    sql.begin_write()
    if release_expired:
        idempotency.release_expired(sql, values["idempotency_scope"], values["idempotency_key"], values["created_at"])
    if values["case_id"] is None:
        # Ratings without a case (hall QR code, 综合点评) cannot be tied to a 办件, so they are rate-limited.
        config = current_app.config
        ratelimit.hit(sql, ("rating", f"{client.ip}|{client.client_id or ''}", config["RATE_LIMIT_ANON_RATINGS"]),
                      ("rating-ip", client.ip, config["RATE_LIMIT_ANON_RATINGS_PER_IP"]))
    ((rating_id,),) = sql.rows(_insert_rating, values)
    if tag_codes:
        params = {f"tag{i}": code for i, code in enumerate(tag_codes)}
        sql.rows(_insert_tags, {**params, "rating_id": rating_id}, len(tag_codes))
    outbox.emit(outbox.rating_events(rating_id, values, tag_codes), sql)  # events out: same transaction
    sql.commit()
    return rating_id


def _insert_rating():
    return insert(Rating.__table__).returning(Rating.__table__.c.id)


def _insert_tags(count: int):
    """One statement for all the tags of a rating (up to 10), rather than one per tag."""
    return insert(RatingTag.__table__).values([{"rating_id": bindparam("rating_id"), "tag_code": bindparam(f"tag{i}")}
                                               for i in range(count)])


def _rating_of_case():
    return select(Rating.id).where(Rating.case_id == bindparam("case_id"))


def _case_rated(reads: PlainStatements, case_id: int) -> bool:
    return bool(reads.rows(_rating_of_case, {"case_id": case_id}))


def _build(reads: PlainStatements, data: dict) -> tuple[dict, list[str]]:
    """Validate; returns the ratings row to insert and its tag codes."""
    errors: dict[str, list[str]] = {}
    token = data.get("rating_token")
    if token:
        case = cases.find_by_token(reads, token)
        if case is None:
            raise ValidationFailed({"rating_token": ["评价码无效，请扫描办件回执上的二维码重新评价"]},
                                   code="invalid_rating_token")
        for field, value in (("hall", case.hall_code), ("item", case.item_code),
                             ("window", case.window_code), ("staff_no", case.staff_no)):
            if data.get(field) is not None and data[field] != value:
                errors[field] = ["与办件登记的信息不一致，使用评价码时可不填此项"]
        hall, item, window, staff_no = case.hall_code, case.item_code, case.window_code, case.staff_no
    else:
        case = None
        hall, item, window, staff_no = data.get("hall"), data.get("item"), data.get("window"), data.get("staff_no")
        if not hall:
            errors["hall"] = ["请提供评价码，或所评价的服务大厅编码"]
        elif not catalog.hall_exists_cached(reads, hall):
            errors["hall"] = [f"未知的大厅编码：{hall}"]
        else:
            if item and not catalog.item_offered_cached(reads, hall, item):
                errors["item"] = [f"该大厅未提供此事项：{item}"]
            if window and not catalog.window_exists_cached(reads, hall, window):
                errors["window"] = [f"该大厅没有此窗口：{window}"]

    score = data["score"]
    tag_codes = list(dict.fromkeys(data.get("tags") or []))
    if tag_codes:
        tag_errors = _check_tags(reads, tag_codes, score)
        if tag_errors:
            errors["tags"] = tag_errors
    anonymous = data.get("anonymous", True)
    if not anonymous and is_bad(score) and not data.get("phone"):
        errors["phone"] = ["实名差评需要填写有效的手机号码，以便工作人员回访核实"]
    if errors:
        raise ValidationFailed(errors)

    if case is not None:
        if case.rating_id is not None:
            raise Conflict("该办件已评价，每个办件只能评价一次", code="already_rated")
        if cases.window_closed(case.rate_before, now()):
            days = current_app.config["RATING_WINDOW_DAYS"]
            raise Conflict(f"该办件的评价期已结束（办结后 {days} 日内可评价）", code="rating_window_closed")

    created = now()
    name, phone = data.get("name"), data.get("phone")
    return dict(
        case_id=case.id if case else None, hall_code=hall, item_code=item, window_code=window, staff_no=staff_no,
        score=score, channel=data["channel"], comment=data.get("comment") or None, anonymous=anonymous,
        name_enc=encrypt(name), name_masked=mask_name(name), phone_enc=encrypt(phone), phone_masked=mask_phone(phone),
        is_default=False, effective=True, created_at=created, rated_on=local_date(created),
    ), tag_codes


def _check_tags(reads: PlainStatements, codes: list[str], score: int) -> list[str]:
    tags = catalog.tags_cached(reads, codes)
    problems = []
    unknown = [c for c in codes if c not in tags]
    if unknown:
        problems.append(f"未知的评价标签：{'、'.join(unknown)}")
    for label, applies_to in tags.values():
        if not tag_fits(applies_to, score):
            problems.append(f"标签「{label}」只适用于{TAG_APPLIES[applies_to]}")
    return problems


# ---- views -------------------------------------------------------------------------------------------------
# The response schemas (api/schemas/ratings.py) own the shape of every answer; these return rows.
@dataclass(frozen=True)
class RatingRead:
    """One rating as its rater or a member of staff reads it: the row, and what was done about it (a 差评)."""
    rating: Rating
    rectification: dict | None
    follow_up: object | None = None  # models.RatingFollowUp (追评)

    def __getattr__(self, name):  # the rating's own columns read through, so one schema dumps both
        return getattr(self.rating, name)


def rectification_of(rating: Rating) -> dict | None:
    """The rater's view of what was done about a 差评; null until the collecting job has made its item."""
    item = rectification.item_for_rating(rating.id)
    return None if item is None else rectification.rater_view(item)


def get_for_rater(rating_id: int, receipt: str, *, client: Client) -> RatingRead:
    # Counted in its own committed transaction, so that failed guesses count too.
    with plain_statements() as sql:
        sql.begin_write()
        ratelimit.hit(sql, ("receipt", client.ip, current_app.config["RATE_LIMIT_RECEIPT_READS"]))
        sql.commit()
    rating = db.session.get(Rating, rating_id)
    # A wrong receipt looks exactly like an unknown id.
    if rating is None or not receipt_matches(rating_id, receipt):
        raise NotFound("未找到该评价，请核对评价编号和回执")
    return RatingRead(rating, rectification_of(rating) if is_bad(rating.score) else None, follow_ups.of_rating(rating_id))


def get_for_staff(principal: Principal, rating_id: int) -> RatingRead:
    rating = db.session.get(Rating, rating_id)
    if rating is None or not principal.sees(rating.hall_code):
        raise NotFound("未找到该评价")
    return RatingRead(rating, rectification_of(rating) if is_bad(rating.score) else None, follow_ups.of_rating(rating_id))


def list_for(principal: Principal, filters: dict, *, cursor: str | None, limit: int) -> tuple[list[Rating], str | None]:
    stmt = select(Rating)
    hall = filters.get("hall")
    if hall:
        principal.check_hall(hall)
        stmt = stmt.where(Rating.hall_code == hall)
    elif principal.halls is not None:
        stmt = stmt.where(Rating.hall_code.in_(principal.halls))
    for field, column in (("item", Rating.item_code), ("window", Rating.window_code),
                          ("staff_no", Rating.staff_no), ("score", Rating.score), ("channel", Rating.channel)):
        if filters.get(field) is not None:
            stmt = stmt.where(column == filters[field])
    if filters.get("bad") is not None:
        stmt = stmt.where(Rating.score <= BAD_MAX_SCORE if filters["bad"] else Rating.score > BAD_MAX_SCORE)
    start: date | None = filters.get("from")
    end: date | None = filters.get("to")
    if start and end and start > end:
        raise ValidationFailed({"from": ["开始日期不能晚于结束日期"]})
    if start:
        stmt = stmt.where(Rating.created_at >= start_of_day(start))
    if end:
        stmt = stmt.where(Rating.created_at <= end_of_day(end))
    rows, next_cursor = keyset_page(stmt, Rating.id, cursor=cursor, limit=limit)
    return rows, next_cursor
