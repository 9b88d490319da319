"""好差评 intake and reads: one rating per case, retries never double-count, personal data encrypted and masked."""
from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from models import Rating, RatingTag, db

from . import cases, catalog, idempotency, outbox, ratelimit, rectification
from .auth import Principal
from .errors import Conflict, NotFound, ServiceError, ValidationFailed
from .pagination import keyset_page
from .receipts import receipt_for, receipt_matches
from .security import encrypt, mask_name, mask_phone
from .sqlutil import PlainStatements, plain_statements
from .timeutil import end_of_day, iso, local_date, now, start_of_day
from .vocab import TAG_APPLIES, is_bad, level_of

IDEMPOTENCY_SCOPE = "POST /ratings"


@dataclass(frozen=True)
class Client:
    ip: str
    client_id: str | None = None


# ---- intake ------------------------------------------------------------------------------------------------
# Every public rating takes this path, so it runs on plain statements (compiled once, on a pooled DBAPI connection)
# rather than the Session: its reads come first, outside any write transaction, and the write transaction holds
# SQLite's writer lock only for the statements that write (rate-limit counters, rating, tags, idempotency key).
def submit(data: dict, *, client: Client, idempotency_key: str | None, raw_body) -> tuple[dict, bool]:
    """Store one rating. Returns (response body, replayed).

    A retry under the same Idempotency-Key is looked for only when the rating is refused: by the key's own unique
    constraint (the first attempt was stored), by the case's (another rating won), or by any other refusal (409,
    429, a 422 after a catalog change). A stored first response then wins, and the same key with another body is
    409 `idempotency_key_reused`, as before. So a first attempt, nearly every request, costs no lookup."""
    key = idempotency.check_key(idempotency_key)
    digest = idempotency.request_hash(raw_body) if key else None
    with plain_statements() as sql:
        case_id = None
        try:
            values, tag_codes = _build(sql, data)
            case_id = values["case_id"]
            body, rating_id = _store(sql, values, tag_codes, client, key, digest)
        except (ServiceError, IntegrityError):
            sql.rollback()
            if key and (prior := idempotency.lookup(sql, IDEMPOTENCY_SCOPE, key, digest)):
                return _replay(prior), True
            if case_id is not None and _case_rated(sql, case_id):  # a concurrent rating of the case won
                raise Conflict("该办件已评价，每个办件只能评价一次", code="already_rated") from None
            raise
    return {**body, "receipt": receipt_for(rating_id)}, False


def _store(sql: PlainStatements, values: dict, tag_codes: list[str], client: Client, key: str | None,
           digest: str | None) -> tuple[dict, int]:
    """The write transaction of one rating: (the response body without its receipt, rating id)."""
    sql.begin_write()
    if values["case_id"] is None:
        # Ratings without a case (hall QR code, 综合点评) cannot be tied to a 办件, so they are rate-limited.
        config = current_app.config
        ratelimit.hit(sql, ("rating", f"{client.ip}|{client.client_id or ''}", config["RATE_LIMIT_ANON_RATINGS"]),
                      ("rating-ip", client.ip, config["RATE_LIMIT_ANON_RATINGS_PER_IP"]))
    ((rating_id,),) = sql.rows("ratings.insert", _insert_rating, values)
    sql.run_many("ratings.insert_tags", _insert_tag, [{"rating_id": rating_id, "tag_code": code} for code in tag_codes])
    outbox.emit(outbox.rating_events(rating_id, values, tag_codes), sql)  # events out: same transaction
    body = created_body_of(rating_id, values["score"], values["created_at"])
    if key:
        idempotency.remember(sql, IDEMPOTENCY_SCOPE, key, digest, 201, body, rating_id)
    sql.commit()
    return body, rating_id


def _insert_rating():
    return insert(Rating.__table__).returning(Rating.__table__.c.id)


def _insert_tag():
    return insert(RatingTag.__table__)


def _replay(row: idempotency.Stored) -> dict:
    return {**idempotency.stored_body(row), "receipt": receipt_for(row.resource_id)}


def _rating_of_case():
    return select(Rating.id).where(Rating.case_id == bindparam("case_id"))


def _case_rated(reads: PlainStatements, case_id: int) -> bool:
    return bool(reads.rows("ratings.of_case", _rating_of_case, {"case_id": case_id}))


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
            errors["hall"] = ["请提供评价码（rating_token）或所评价的大厅编码（hall）"]
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
        if _case_rated(reads, case.id):
            raise Conflict("该办件已评价，每个办件只能评价一次", code="already_rated")
        if case.rate_before <= now():
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
        # 基本满意 (3) may carry either kind; a good-only tag on a 差评 or a bad-only tag on praise is a mistake.
        if applies_to == "good" and is_bad(score) or applies_to == "bad" and score >= 4:
            problems.append(f"标签「{label}」只适用于{TAG_APPLIES[applies_to]}")
    return problems


# ---- views -------------------------------------------------------------------------------------------------
def created_body(rating: Rating) -> dict:
    return created_body_of(rating.id, rating.score, rating.created_at)


def created_body_of(rating_id: int, score: int, created_at) -> dict:
    level, label = level_of(score)
    return {"id": rating_id, "score": score, "level": level, "level_label": label, "is_bad": is_bad(score),
            "created_at": iso(created_at)}


def view(rating: Rating) -> dict:
    level, label = level_of(rating.score)
    return {
        "id": rating.id, "hall": rating.hall_code, "item": rating.item_code, "window": rating.window_code,
        "staff_no": rating.staff_no, "score": rating.score, "level": level, "level_label": label,
        "is_bad": is_bad(rating.score), "channel": rating.channel, "tags": sorted(t.tag_code for t in rating.tags),
        "comment": rating.comment, "anonymous": rating.anonymous, "name": rating.name_masked,
        "phone": rating.phone_masked, "is_default": rating.is_default, "effective": rating.effective,
        "created_at": rating.created_at,
    }


def rectification_of(rating: Rating) -> dict | None:
    """The rater's view of what was done about a 差评; null until the collecting job has made its item."""
    item = rectification.item_for_rating(rating.id)
    return None if item is None else rectification.rater_view(item)


def get_for_rater(rating_id: int, receipt: str, *, client: Client) -> dict:
    # Counted in its own committed transaction, so that failed guesses count too.
    with plain_statements() as sql:
        sql.begin_write()
        ratelimit.hit(sql, ("receipt", client.ip, current_app.config["RATE_LIMIT_RECEIPT_READS"]))
        sql.commit()
    rating = db.session.get(Rating, rating_id)
    # A wrong receipt looks exactly like an unknown id.
    if rating is None or not receipt_matches(rating_id, receipt):
        raise NotFound("未找到该评价，请核对评价编号和回执")
    return {**view(rating), "rectification": rectification_of(rating) if is_bad(rating.score) else None}


def get_for_staff(principal: Principal, rating_id: int) -> dict:
    rating = db.session.get(Rating, rating_id)
    if rating is None or not principal.sees(rating.hall_code):
        raise NotFound("未找到该评价")
    return {**view(rating), "rectification": rectification_of(rating) if is_bad(rating.score) else None}


def list_for(principal: Principal, filters: dict, *, cursor: str | None, limit: int) -> tuple[list[dict], str | None]:
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
        stmt = stmt.where(Rating.score <= 2 if filters["bad"] else Rating.score > 2)
    start: date | None = filters.get("from")
    end: date | None = filters.get("to")
    if start and end and start > end:
        raise ValidationFailed({"from": ["开始日期不能晚于结束日期"]})
    if start:
        stmt = stmt.where(Rating.created_at >= start_of_day(start))
    if end:
        stmt = stmt.where(Rating.created_at <= end_of_day(end))
    rows, next_cursor = keyset_page(stmt, Rating.id, cursor=cursor, limit=limit)
    return [view(r) for r in rows], next_cursor
