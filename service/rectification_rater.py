"""The rater's side of a 差评's rectification: how they rate the answer they were given (回头看 on a bad score)."""
from typing import NamedTuple

from models import Rating, db

from . import outbox
from .database import writes
from .errors import Conflict, NotFound
from .receipts import receipt_matches
from .rectification import (
    RaterRow,
    feedback_answered,
    feedback_at,
    item_for_rating,
    mark_changed,
    rater_view,
    record_event,
    rectify_days,
    reopen_list,
    set_deadline,
    touch,
)
from .timeutil import local_date, now
from .vocab import is_bad


class Answer(NamedTuple):
    rating_id: int
    score: int
    rectification: RaterRow


@writes
def answer_satisfaction(rating_id: int, receipt: str | None, score: int) -> Answer:
    """The rater rates how the 差评 was handled; 1–2 sends the item back to 整改 (回头看)."""
    rating = db.session.get(Rating, rating_id)
    if rating is None or not receipt_matches(rating_id, receipt):
        raise NotFound("未找到该评价，请核对评价编号和回执")
    item = item_for_rating(rating_id, lock=True)
    if item is None:
        raise Conflict("该评价没有整改事项", code="no_rectification")
    if feedback_at(item) is None:
        raise Conflict("整改结果尚未反馈给您，暂不能评价", code="not_answered")
    if feedback_answered(item):
        if item.rater_satisfaction == score:  # a retry from a flaky network: same answer, same result
            return Answer(rating_id, score, rater_view(item))
        raise Conflict("您已评价过本次整改结果", code="already_answered")
    stamp = now()
    before = item.status
    item.rater_satisfaction, item.rater_answered_at = score, stamp
    touch(item, stamp)
    record_event(item, stamp, "评价人", "answer_satisfaction", before, f"评价人对整改结果的评价：{score} 分")
    if is_bad(score) and before in ("awaiting_acceptance", "closed"):
        item.status, item.closed_at, item.on_time = "rectifying", None, None
        set_deadline(item, local_date(stamp), rectify_days(item.resolution))
        record_event(item, stamp, "评价人", "reopen", before, "评价人对整改结果不满意，回头看")
        outbox.emit(outbox.item_changed(item, before, "reopen", stamp))  # events out: same transaction
        reopen_list(item.list_id)
    mark_changed(stamp)
    db.session.commit()
    return Answer(rating_id, score, rater_view(item))
