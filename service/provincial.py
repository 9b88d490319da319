"""The provincial 好差评 platform's field set: the one place our events are mapped to it (docs/provincial-mapping.md).

Keys are the platform's Chinese field names as API.md lists them (评价编号, 办件编号, …), so the mapping reads the
same as the platform's field table; if the province's interface document names them differently, this module is the
only one to change. Codes: 评价等级 is the five-level code 1..5 (5 = 非常满意), our score as is; 评价渠道 follows
the national numbering (CHANNEL_CODES); 整改状态 uses STATUS_CODES."""
from datetime import datetime

from sqlalchemy import select

from models import Case, Hall, OutboxEvent, ServiceItem, db

from .timeutil import SHANGHAI

# Event types the platform takes: the rating itself, then the 整改状态 of the item its 差评 became.
TYPES = ("rating.created", "rectification.created", "rectification.status_changed", "rectification.closed")

# 评价等级: the five-level code, 5 best, exactly our score.
LEVEL_CODES = {5: "5", 4: "4", 3: "3", 2: "2", 1: "1"}
# 评价渠道: 1 PC 网站, 2 移动端（App、小程序）, 3 二维码, 4 政务大厅平板电脑, 5 政务大厅其他终端（评价器）, 6 电话,
# 7 短信; 9 is our own code for the system's default rating (no channel: the citizen did not rate).
CHANNEL_CODES = {"web": "1", "app": "2", "miniprogram": "2", "qrcode": "3", "tablet": "4", "device": "5",
                 "hotline": "6", "sms": "7", "system": "9"}
# 整改状态 of a 差评's item.
STATUS_CODES = {"pending": ("1", "待核实"), "rectifying": ("2", "整改中"), "awaiting_acceptance": ("3", "待验收"),
                "closed": ("4", "已销号"), "appealed": ("5", "申诉中"), "dismissed": ("6", "申诉成立，不予整改")}


def assess_number(hall: str, rating_id) -> str:
    """评价编号: unique across the districts reporting to the province (hall codes are the district's own)."""
    return f"{hall}-{rating_id}"


def _local(moment: str | None) -> str | None:
    """'YYYY-MM-DD HH:MM:SS' in Asia/Shanghai, the platform's time format, from our ISO 8601 time."""
    if moment is None:
        return None
    return datetime.fromisoformat(moment).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def body(event: OutboxEvent) -> dict:
    """The platform's record for one event; a rating's later changes report its 整改状态."""
    data = event.data
    head = {"事件编号": str(event.id), "事件类型": event.type}
    if event.type == "rating.created":
        case_no = db.session.execute(select(Case.case_no).where(Case.id == data["case_id"])).scalar() \
            if data.get("case_id") else None
        item_name = db.session.execute(select(ServiceItem.name).where(ServiceItem.code == data["item"])).scalar() \
            if data.get("item") else None
        hall_name = db.session.execute(select(Hall.name).where(Hall.code == data["hall"])).scalar()
        return {**head,
                "评价编号": assess_number(data["hall"], data["rating_id"]),
                "办件编号": case_no,
                "事项编码": data.get("item"),
                "事项名称": item_name,
                "评价渠道": CHANNEL_CODES.get(data["channel"], "5"),
                "评价等级": LEVEL_CODES[data["score"]],
                "评价标签": data.get("tags") or [],
                "评价时间": _local(data["rated_at"]),
                "评价对象": {"大厅编码": data["hall"], "大厅名称": hall_name, "窗口编号": data.get("window"),
                         "工作人员工号": data.get("staff_no")},
                "默认评价": bool(data.get("is_default"))}
    code, label = STATUS_CODES[data["status"]]
    return {**head,
            "评价编号": assess_number(data["hall"], data["source_id"]),
            "整改状态": code,
            "整改状态名称": label,
            "整改期限": data.get("due_date"),
            "变更时间": event.occurred_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")}
