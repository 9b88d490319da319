"""追评: the rater's one follow-up to a rating, inside the rating window; it shows on the rating and on the
rectification item of a 差评."""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from models import Case, Rating, RatingFollowUp, Tag, db

from . import outbox
from .cases import window_closed
from .database import writes
from .errors import Conflict, NotFound, ValidationFailed
from .receipts import receipt_matches
from .rectification import item_for_rating, mark_changed, record_event
from .timeutil import now
from .vocab import TAG_APPLIES, tag_fits


def window_end(rating: Rating) -> datetime:
    """A case rating's window is its case's (rate_before); a rating without a case has RATING_WINDOW_DAYS from
    the moment it was given."""
    if rating.case_id is not None:
        return db.session.get(Case, rating.case_id).rate_before
    return rating.created_at + timedelta(days=current_app.config["RATING_WINDOW_DAYS"])


def _check_tags(codes: list[str], score: int) -> None:
    tags = {t.code: t for t in db.session.execute(select(Tag).where(Tag.code.in_(codes))).scalars()}
    problems = [f"未知的评价标签：{c}" for c in codes if c not in tags]
    for tag in tags.values():
        if not tag_fits(tag.applies_to, score):
            problems.append(f"标签「{tag.label}」只适用于{TAG_APPLIES[tag.applies_to]}")
    if problems:
        raise ValidationFailed({"tags": problems})


def of_rating(rating_id: int) -> RatingFollowUp | None:
    return db.session.execute(select(RatingFollowUp).where(RatingFollowUp.rating_id == rating_id)).scalar_one_or_none()


@writes
def follow_up(rating_id: int, receipt: str | None, comment: str, tags: list[str]) -> RatingFollowUp:
    rating = db.session.get(Rating, rating_id)
    if rating is None or not receipt_matches(rating_id, receipt):
        raise NotFound("未找到该评价，请核对评价编号和回执")
    stamp = now()
    if window_closed(window_end(rating), stamp):
        raise Conflict("已超过评价期限，不能追评", code="rating_window_closed")
    if of_rating(rating_id) is not None:
        raise Conflict("您已追评过，每条评价只能追评一次", code="already_followed_up")
    codes = list(dict.fromkeys(tags))
    _check_tags(codes, rating.score)
    made = RatingFollowUp(rating_id=rating_id, comment=comment, tags=codes, created_at=stamp)
    db.session.add(made)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent second follow-up: the unique key decides
        db.session.rollback()
        raise Conflict("您已追评过，每条评价只能追评一次", code="already_followed_up") from None
    outbox.emit(outbox.rating_followed_up(rating, codes, stamp))  # events out: same transaction
    item = item_for_rating(rating_id, lock=True)
    if item is not None:
        # The handler sees it on the item; a poller sees the item move (updated_at), an If-Match stays valid.
        record_event(item, stamp, "评价人", "followed_up", item.status, f"评价人追评：{comment}")
        item.updated_at = stamp
        mark_changed(stamp)
    db.session.commit()
    return made
