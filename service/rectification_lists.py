"""Rectification lists (整改清单): scoped listing with item counts, and one list with its items."""
from sqlalchemy import func, select

from models import RectificationItem, RectificationList, db

from .auth import Principal
from .errors import NotFound
from .pagination import Page, keyset_page
from .rectification import CLOSED_STATUSES, ItemRow, ListRow
from .timeutil import local_date, now


def _counts(list_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not list_ids:
        return {}
    closed = func.sum(func.cast(RectificationItem.status.in_(CLOSED_STATUSES), db.Integer))
    rows = db.session.execute(select(RectificationItem.list_id, func.count(), closed)
                              .where(RectificationItem.list_id.in_(list_ids))
                              .group_by(RectificationItem.list_id)).all()
    return {lid: (total, int(done or 0)) for lid, total, done in rows}


def list_lists(principal: Principal, filters: dict, *, cursor: str | None, limit: int) -> Page:
    stmt = select(RectificationList)
    if filters.get("hall"):
        principal.check_hall(filters["hall"])
        stmt = stmt.where(RectificationList.hall_code == filters["hall"])
    elif principal.halls is not None:
        stmt = stmt.where(RectificationList.hall_code.in_(sorted(principal.halls)))
    for field in ("source", "status"):
        if filters.get(field):
            stmt = stmt.where(getattr(RectificationList, field) == filters[field])
    lists, next_cursor = keyset_page(stmt, RectificationList.id, cursor=cursor, limit=limit)
    counts = _counts([lst.id for lst in lists])
    return Page([ListRow(lst, *counts.get(lst.id, (0, 0))) for lst in lists], next_cursor)


def get_list(principal: Principal, code: str) -> ListRow:
    lst = db.session.execute(select(RectificationList).where(RectificationList.code == code)).scalar_one_or_none()
    if lst is None or not principal.sees(lst.hall_code):
        raise NotFound("未找到该整改清单")
    items = db.session.execute(select(RectificationItem).where(RectificationItem.list_id == lst.id)
                               .order_by(RectificationItem.id)).scalars().all()
    today = local_date(now())
    closed = sum(1 for i in items if i.status in CLOSED_STATUSES)
    return ListRow(lst, len(items), closed, [ItemRow(i, lst.code, today) for i in items])
