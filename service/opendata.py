"""Open data (评价结果公开): an anonymised SQLite file, written with sqlite-utils, that Datasette opens as it is.

Nothing personal leaves: no names, phones, receipts, tokens, staff numbers, free-text comments or times of
day (a rating is dated, not timed). Only effective ratings are released.
"""
import json
import os
import tempfile
from pathlib import Path

import sqlite_utils
from sqlalchemy import case, func, select

from models import Hall, Rating, RatingTag, ServiceItem, Tag, db

from . import rectification_metrics
from .vocab import BAD_MAX_SCORE, CHANNELS, LEVELS

DESCRIPTIONS = {
    "halls": {"code": "大厅编码", "name": "大厅名称", "level": "层级：city 市级 / district 区县 / street 街道 / community 社区",
              "parent_code": "上级大厅编码", "address": "地址"},
    "service_items": {"code": "事项编码", "name": "事项名称", "department": "实施部门"},
    "tags": {"code": "标签编码", "label": "标签", "applies_to": "适用：good 好评 / bad 差评 / any 通用"},
    "ratings": {"rated_on": "评价日期（北京时间）", "hall_code": "大厅编码", "item_code": "事项编码",
                "window_code": "窗口编号", "score": "评分 1-5（5 为非常满意）", "level_label": "评价等级",
                "is_bad": "是否差评（1-2 分）", "channel": "评价渠道", "tags": "评价标签（逗号分隔）",
                "is_default": "是否为超期未评的默认评价"},
    "daily_stats": {"day": "日期", "hall_code": "大厅编码", "item_code": "事项编码", "ratings": "有效评价数",
                    "bad": "差评数", "good_rate": "好评率（3-5 分占比）", "bad_rate": "差评率（1-2 分占比）"},
    "rectification_items": {"id": "整改事项编号", "list_code": "整改清单编号", "source": "来源：rating 差评 / walkthrough 走流程",
                            "hall_code": "大厅编码", "item_code": "事项编码", "category": "问题类别",
                            "category_label": "问题类别（中文）", "status": "状态", "status_label": "状态（中文）",
                            "due_date": "整改期限", "closed_on": "销号日期", "overdue": "是否逾期"},
}
FTS = {"halls": ["name", "address"], "service_items": ["name", "department"], "tags": ["label"]}


def _rows(stmt, batch: int = 5000):
    result = db.session.execute(stmt.execution_options(yield_per=batch))
    for row in result.mappings():
        yield dict(row)


def export(path: str) -> dict:
    """Writes the file atomically (a temp file renamed into place) and returns the row counts."""
    target = Path(path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".db", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)
    out = sqlite_utils.Database(tmp)
    counts = {}
    try:
        counts["halls"] = _write(out, "halls", _rows(select(Hall.code, Hall.name, Hall.level, Hall.parent_code,
                                                            Hall.address)), pk="code")
        counts["service_items"] = _write(out, "service_items", _rows(select(ServiceItem.code, ServiceItem.name,
                                                                            ServiceItem.department)), pk="code")
        counts["tags"] = _write(out, "tags", _rows(select(Tag.code, Tag.label, Tag.applies_to)), pk="code")
        counts["ratings"] = _write(out, "ratings", _public_ratings(), foreign_keys=[
            ("hall_code", "halls", "code"), ("item_code", "service_items", "code")])
        counts["daily_stats"] = _write(out, "daily_stats", _daily_stats(), pk=("day", "hall_code", "item_code"))
        counts["rectification_items"] = _write(out, "rectification_items", rectification_metrics.public_items(),
                                               pk="id")
        for table, columns in FTS.items():
            if out[table].exists():
                out[table].enable_fts(columns, tokenize="trigram", create_triggers=False)
        out["rectification_items"].enable_fts(rectification_metrics.PUBLIC_TEXT_COLUMNS, tokenize="trigram")
        out["column_descriptions"].insert_all(
            ({"table_name": t, "column_name": c, "description": d} for t, cols in DESCRIPTIONS.items()
             for c, d in cols.items()), pk=("table_name", "column_name"))
        for table in ("ratings", "daily_stats"):
            if out[table].exists():
                out[table].create_index(["hall_code"], if_not_exists=True)
        out.conn.commit()
        out.close()
        os.replace(tmp, target)
    except BaseException:
        out.close()
        Path(tmp).unlink(missing_ok=True)
        raise
    metadata = {"title": "政务服务\"好差评\"评价结果公开", "license": "公开数据，使用请注明来源",
                "databases": {target.stem: {"tables": {t: {"columns": cols} for t, cols in DESCRIPTIONS.items()}}}}
    target.with_suffix(".metadata.json").write_text(json.dumps(metadata, ensure_ascii=False, indent=2),
                                                    encoding="utf-8")
    return counts


def _write(out, table, rows, **options) -> int:
    count = 0

    def counted():
        nonlocal count
        for row in rows:
            count += 1
            yield row

    out[table].insert_all(counted(), batch_size=2000, **options)
    if not out[table].exists():
        # Nothing to release yet: the table still exists, so the file's shape does not depend on the data.
        out[table].create({column: str for column in DESCRIPTIONS[table]}, pk=options.get("pk"))
    return count


def _public_ratings():
    tags = (select(RatingTag.rating_id, func.group_concat(RatingTag.tag_code).label("tags"))
            .group_by(RatingTag.rating_id).subquery()) if db.session.get_bind().dialect.name == "sqlite" else (
        select(RatingTag.rating_id, func.string_agg(RatingTag.tag_code, ",").label("tags"))
        .group_by(RatingTag.rating_id).subquery())
    stmt = (select(Rating.rated_on, Rating.hall_code, Rating.item_code, Rating.window_code, Rating.score,
                   Rating.channel, Rating.is_default, tags.c.tags)
            .outerjoin(tags, tags.c.rating_id == Rating.id)
            .where(Rating.effective.is_(True)).order_by(Rating.rated_on, Rating.id))
    for row in _rows(stmt):
        yield {"rated_on": row["rated_on"].isoformat(), "hall_code": row["hall_code"], "item_code": row["item_code"],
               "window_code": row["window_code"], "score": row["score"], "level_label": LEVELS[row["score"]][1],
               "is_bad": row["score"] <= BAD_MAX_SCORE, "channel": CHANNELS.get(row["channel"], row["channel"]),
               "tags": ",".join(sorted((row["tags"] or "").split(","))) if row["tags"] else "",
               "is_default": row["is_default"]}


def _daily_stats():
    item = func.coalesce(Rating.item_code, "")
    stmt = (select(Rating.rated_on, Rating.hall_code, item.label("item_code"), func.count().label("ratings"),
                   func.sum(case((Rating.score <= BAD_MAX_SCORE, 1), else_=0)).label("bad"))
            .where(Rating.effective.is_(True)).group_by(Rating.rated_on, Rating.hall_code, item)
            .order_by(Rating.rated_on))
    for row in _rows(stmt):
        n, bad = row["ratings"], row["bad"]
        yield {"day": row["rated_on"].isoformat(), "hall_code": row["hall_code"], "item_code": row["item_code"],
               "ratings": n, "bad": bad, "good_rate": round((n - bad) / n, 4), "bad_rate": round(bad / n, 4)}
