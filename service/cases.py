"""Cases (办件): a finished service occurrence gets one single-use rating token for its applicant."""
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from models import Case, Rating, db

from . import catalog
from .auth import Principal
from .database import writes
from .errors import Conflict, ValidationFailed
from .security import derive, hash_token
from .sqlutil import PlainStatements
from .timeutil import now

CLOCK_SKEW = timedelta(minutes=5)


def rating_token(hall_code: str, case_no: str) -> str:
    """Derived from the server key, so a repeated registration returns the same token without storing it."""
    return derive("case", f"{hall_code}\x1f{case_no}")


def window_closed(rate_before: datetime, moment: datetime) -> bool:
    """The rating window (评价期) ends at rate_before: from that instant on the case can no longer be rated."""
    return rate_before <= moment


class RatedCase(NamedTuple):
    """What the rating intake needs of the case a rating token names."""
    id: int
    hall_code: str
    item_code: str
    window_code: str | None
    staff_no: str | None
    rate_before: datetime
    rating_id: int | None  # the case's rating, if it has one already (一次一评)


def _case_by_token():
    return select(Case.id, Case.hall_code, Case.item_code, Case.window_code, Case.staff_no, Case.rate_before,
                  Rating.id).outerjoin(Rating, Rating.case_id == Case.id) \
        .where(Case.token_hash == bindparam("token_hash"))


def find_by_token(reads: PlainStatements, token: str) -> RatedCase | None:
    """The case and, in the same read, whether it is rated already."""
    rows = reads.rows(_case_by_token, {"token_hash": hash_token(token)})
    return RatedCase(*rows[0]) if rows else None


def _validate(principal: Principal, data: dict) -> None:
    hall = data["hall"]
    principal.check_hall(hall)
    catalog.get_hall(hall)
    errors = {}
    if not catalog.item_offered(hall, data["item"]):
        errors["item"] = [f"该大厅未提供此事项：{data['item']}"]
    if data.get("window") and not catalog.window_exists(hall, data["window"]):
        errors["window"] = [f"该大厅没有此窗口：{data['window']}"]
    completed = data.get("completed_at")
    if completed and completed > now() + CLOCK_SKEW:
        errors["completed_at"] = ["办结时间不能晚于当前时间"]
    if errors:
        raise ValidationFailed(errors)


def _same_content(case: Case, data: dict) -> bool:
    return (case.item_code == data["item"]
            and case.window_code == data.get("window")
            and case.staff_no == data.get("staff_no")
            and (data.get("completed_at") is None or case.completed_at == data["completed_at"]))


def _existing(hall: str, case_no: str) -> Case | None:
    return db.session.execute(select(Case).where(Case.hall_code == hall, Case.case_no == case_no)) \
        .scalar_one_or_none()


@writes
def register(principal: Principal, data: dict) -> tuple[Case, str, bool]:
    """Returns (case, token, created). Repeating the same case is harmless; changing it is a conflict."""
    _validate(principal, data)
    hall, case_no = data["hall"], data["case_no"]
    case = _existing(hall, case_no)
    if case is None:
        completed = data.get("completed_at") or now()
        token = rating_token(hall, case_no)
        case = Case(case_no=case_no, hall_code=hall, item_code=data["item"], window_code=data.get("window"),
                    staff_no=data.get("staff_no"), completed_at=completed,
                    rate_before=completed + timedelta(days=current_app.config["RATING_WINDOW_DAYS"]),
                    token_hash=hash_token(token), created_by=principal.account_id)
        db.session.add(case)
        try:
            db.session.commit()
            return case, token, True
        except IntegrityError:
            # Another request registered the same case a moment ago: answer as a repeat.
            db.session.rollback()
            case = _existing(hall, case_no)
            if case is None:
                raise
    if not _same_content(case, data):
        raise Conflict(f"办件编号 {case_no} 已登记，且内容与本次提交不同", code="case_conflict")
    return case, rating_token(hall, case_no), False
