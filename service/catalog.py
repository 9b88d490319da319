"""The catalog: halls and their hierarchy, windows, service items offered per hall, rating tags; CSV import."""
import csv
import io
import time
from pathlib import Path

from flask import current_app
from sqlalchemy import bindparam, delete, event, or_, select
from sqlalchemy.orm import Session

from models import Hall, HallItem, ServiceItem, Tag, Window, db

from .database import writes
from .errors import Conflict, NotFound, ValidationFailed
from .sqlutil import PlainStatements
from .vocab import HALL_LEVEL_ORDER, HALL_LEVELS, TAG_APPLIES, one_of

DEMO_CSV = Path(__file__).parent / "data" / "demo_catalog.csv"


# ---- reads -------------------------------------------------------------------------------------------------
def list_halls() -> list[Hall]:
    return db.session.execute(select(Hall).order_by(Hall.code)).scalars().all()


def get_hall(code: str) -> Hall:
    hall = db.session.get(Hall, code)
    if hall is None:
        raise NotFound("未找到该服务大厅")
    return hall


def hall_windows(code: str) -> list[Window]:
    return db.session.execute(select(Window).where(Window.hall_code == code).order_by(Window.code)).scalars().all()


def list_items(hall: str | None = None, q: str | None = None) -> list[ServiceItem]:
    stmt = select(ServiceItem).order_by(ServiceItem.code)
    if hall:
        get_hall(hall)
        stmt = stmt.join(HallItem, HallItem.item_code == ServiceItem.code).where(HallItem.hall_code == hall)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(ServiceItem.name.like(like), ServiceItem.department.like(like),
                              ServiceItem.code.like(like)))
    return db.session.execute(stmt).scalars().all()


def item_halls(code: str) -> list[str]:
    return db.session.execute(select(HallItem.hall_code).where(HallItem.item_code == code)
                              .order_by(HallItem.hall_code)).scalars().all()


def list_tags() -> list[Tag]:
    return db.session.execute(select(Tag).order_by(Tag.code)).scalars().all()


def window_exists(hall: str, window: str) -> bool:
    return db.session.execute(select(Window.id).where(Window.hall_code == hall, Window.code == window)).first() \
        is not None


def item_offered(hall: str, item: str) -> bool:
    return db.session.get(HallItem, (hall, item)) is not None


# ---- brief in-process cache for the rating intake's checks ---------------------------------------------------
# Every public rating checks its hall, item, window and tags: four reads of tables that change a few times a year.
# Answers are kept per app for CATALOG_CACHE_SECONDS; any catalog write in this process drops them at once (other
# processes see it when their entries expire). Cases and ratings themselves are never cached.
_CATALOG_TABLES = frozenset(m.__tablename__ for m in (Hall, Window, ServiceItem, HallItem, Tag))
_CACHE_MAX_ENTRIES = 10_000  # unknown codes are cached too, so the cache is bounded against made-up ones
_generation = 0


def _catalog_changed() -> None:
    global _generation
    _generation += 1


@event.listens_for(Session, "after_flush")
def _after_flush(session, _context):
    if any(getattr(obj, "__tablename__", None) in _CATALOG_TABLES
           for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info["catalog_changed"] = True
        _catalog_changed()


@event.listens_for(Session, "do_orm_execute")
def _on_bulk_write(state):
    if (state.is_insert or state.is_update or state.is_delete) and \
            getattr(state.statement, "table", None) is not None and state.statement.table.name in _CATALOG_TABLES:
        state.session.info["catalog_changed"] = True
        _catalog_changed()


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _after_end(session, *_):
    # Dropped again at the end, so nothing read while the write was uncommitted outlives it.
    if session.info.pop("catalog_changed", False):
        _catalog_changed()


def _cached(key: tuple, load):
    ttl = current_app.config["CATALOG_CACHE_SECONDS"]
    if ttl <= 0:
        return load()
    cache = current_app.extensions.setdefault("catalog_cache", {})
    now_s = time.monotonic()
    hit = cache.get(key)
    if hit is not None and hit[0] > now_s and hit[1] == _generation:
        return hit[2]
    generation = _generation
    value = load()
    if len(cache) >= _CACHE_MAX_ENTRIES:
        cache.clear()
    cache[key] = (now_s + ttl, generation, value)
    return value


# The loaders read with plain statements on the intake's own connection (no Session), so a rating never opens a
# Session transaction beside the intake's write transaction.
def _hall_code():
    return select(Hall.code).where(Hall.code == bindparam("hall"))


def _hall_item():
    return select(HallItem.item_code).where(HallItem.hall_code == bindparam("hall"),
                                            HallItem.item_code == bindparam("item"))


def _hall_window():
    return select(Window.id).where(Window.hall_code == bindparam("hall"), Window.code == bindparam("window"))


def _tag():
    return select(Tag.label, Tag.applies_to).where(Tag.code == bindparam("code"))


def hall_exists_cached(reads: PlainStatements, code: str) -> bool:
    return _cached(("hall", code), lambda: bool(reads.rows(_hall_code, {"hall": code})))


def item_offered_cached(reads: PlainStatements, hall: str, item: str) -> bool:
    return _cached(("item", hall, item),
                   lambda: bool(reads.rows(_hall_item, {"hall": hall, "item": item})))


def window_exists_cached(reads: PlainStatements, hall: str, window: str) -> bool:
    return _cached(("window", hall, window),
                   lambda: bool(reads.rows(_hall_window, {"hall": hall, "window": window})))


def tags_cached(reads: PlainStatements, codes: list[str]) -> dict[str, tuple[str, str]]:
    """{code: (label, applies_to)} for the known codes among these."""
    def load(code):
        rows = reads.rows(_tag, {"code": code})
        return rows[0] if rows else None

    found = {code: _cached(("tag", code), lambda code=code: load(code)) for code in codes}
    return {code: value for code, value in found.items() if value is not None}


# ---- validation shared by the HTTP writes and the CSV import ------------------------------------------------
def _check_hall_fields(data: dict, existing: Hall | None) -> dict:
    errors = {}
    level = data.get("level", existing.level if existing else None)
    if level not in HALL_LEVELS:
        errors["level"] = [one_of("大厅层级", HALL_LEVELS)]
    parent_code = data.get("parent_code", existing.parent_code if existing else None)
    if parent_code:
        parent = db.session.get(Hall, parent_code)
        if parent is None:
            errors["parent_code"] = [f"上级大厅不存在：{parent_code}"]
        elif level in HALL_LEVELS and HALL_LEVEL_ORDER.index(parent.level) >= HALL_LEVEL_ORDER.index(level):
            errors["parent_code"] = [f"上级大厅（{HALL_LEVELS[parent.level]}）的层级必须高于本大厅（{HALL_LEVELS[level]}）"]
    return errors


# ---- admin writes ------------------------------------------------------------------------------------------
@writes
def create_hall(data: dict) -> Hall:
    if db.session.get(Hall, data["code"]) is not None:
        raise Conflict(f"大厅编码 {data['code']} 已存在", code="duplicate")
    errors = _check_hall_fields(data, None)
    if errors:
        raise ValidationFailed(errors)
    hall = Hall(**data)
    db.session.add(hall)
    db.session.commit()
    return hall


@writes
def update_hall(code: str, data: dict) -> Hall:
    hall = get_hall(code)
    errors = _check_hall_fields(data, hall)
    if data.get("parent_code") == code:
        errors["parent_code"] = ["上级大厅不能是自己"]
    if errors:
        raise ValidationFailed(errors)
    for key, value in data.items():
        setattr(hall, key, value)
    db.session.commit()
    return hall


@writes
def create_window(hall_code: str, data: dict) -> Window:
    get_hall(hall_code)
    if window_exists(hall_code, data["code"]):
        raise Conflict(f"窗口编码 {data['code']} 在该大厅已存在", code="duplicate")
    window = Window(hall_code=hall_code, **data)
    db.session.add(window)
    db.session.commit()
    return window


@writes
def update_window(hall_code: str, code: str, data: dict) -> Window:
    window = db.session.execute(select(Window).where(Window.hall_code == hall_code, Window.code == code)) \
        .scalar_one_or_none()
    if window is None:
        raise NotFound("未找到该窗口")
    for key, value in data.items():
        setattr(window, key, value)
    db.session.commit()
    return window


def _set_item_halls(code: str, halls: list[str]) -> None:
    unknown = [h for h in halls if db.session.get(Hall, h) is None]
    if unknown:
        raise ValidationFailed({"halls": [f"未知的大厅编码：{'、'.join(unknown)}"]})
    db.session.execute(delete(HallItem).where(HallItem.item_code == code))
    db.session.add_all(HallItem(hall_code=h, item_code=code) for h in dict.fromkeys(halls))


@writes
def create_item(data: dict) -> ServiceItem:
    if db.session.get(ServiceItem, data["code"]) is not None:
        raise Conflict(f"事项编码 {data['code']} 已存在", code="duplicate")
    halls = data.pop("halls", [])
    item = ServiceItem(**data)
    db.session.add(item)
    db.session.flush()
    _set_item_halls(item.code, halls)
    db.session.commit()
    return item


@writes
def update_item(code: str, data: dict) -> ServiceItem:
    item = db.session.get(ServiceItem, code)
    if item is None:
        raise NotFound("未找到该服务事项")
    halls = data.pop("halls", None)
    for key, value in data.items():
        setattr(item, key, value)
    if halls is not None:
        _set_item_halls(code, halls)
    db.session.commit()
    return item


@writes
def create_tag(data: dict) -> Tag:
    if db.session.get(Tag, data["code"]) is not None:
        raise Conflict(f"标签编码 {data['code']} 已存在", code="duplicate")
    tag = Tag(**data)
    db.session.add(tag)
    db.session.commit()
    return tag


@writes
def update_tag(code: str, data: dict) -> Tag:
    tag = db.session.get(Tag, code)
    if tag is None:
        raise NotFound("未找到该评价标签")
    for key, value in data.items():
        setattr(tag, key, value)
    db.session.commit()
    return tag


# ---- CSV import --------------------------------------------------------------------------------------------
_KIND_ORDER = {"hall": 0, "window": 1, "item": 2, "tag": 3}


class ImportFailed(ValidationFailed):
    code = "import_failed"


@writes
def import_csv(text: str) -> dict:
    """Upsert every row of a catalog CSV, or nothing at all: all rows are checked before one is written.

    Columns: type (hall|window|item|tag), code, name, then per type: hall → level, parent, address;
    window → hall; item → department, halls (hall codes separated by '|'); tag → applies_to (good|bad|any).
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"type", "code", "name"} - set(reader.fieldnames or [])
    if missing:
        raise ImportFailed({"header": [f"缺少列：{', '.join(sorted(missing))}"]})
    rows = []
    errors: dict[str, list[str]] = {}
    for lineno, row in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k}
        kind = row.get("type")
        if kind not in _KIND_ORDER:
            errors[f"line {lineno}"] = [f"第 {lineno} 行：type 必须是 hall、window、item、tag 之一"]
            continue
        if not row.get("code") or not row.get("name"):
            errors[f"line {lineno}"] = [f"第 {lineno} 行：code 和 name 不能为空"]
            continue
        rows.append((lineno, row))
    rows.sort(key=lambda r: (_KIND_ORDER[r[1]["type"]],
                             HALL_LEVEL_ORDER.index(r[1]["level"]) if r[1].get("level") in HALL_LEVELS else 9))
    counts = dict.fromkeys(_KIND_ORDER, 0)
    with db.session.no_autoflush:
        for lineno, row in rows:
            try:
                _import_row(row)
                db.session.flush()
                counts[row["type"]] += 1
            except ValidationFailed as exc:
                errors[f"line {lineno}"] = [f"第 {lineno} 行：{m}{_csv_hint(field)}"
                                            for field, msgs in exc.errors.items() for m in msgs]
    if errors:
        db.session.rollback()
        raise ImportFailed(errors, detail=f"导入失败，共 {len(errors)} 行有错误，未写入任何数据")
    db.session.commit()
    return counts


# The file's own vocabulary: a CSV author writes these codes, so an error about a coded column names them too (the
# same rule's HTTP answer names only the labels, since a person reads it there).
_CSV_CODES = {"level": HALL_LEVELS, "applies_to": TAG_APPLIES}


def _csv_hint(field: str) -> str:
    codes = _CSV_CODES.get(field)
    return f"（{field} 列填写 {'、'.join(codes)}）" if codes else ""


def _import_row(row: dict) -> None:
    kind, code = row["type"], row["code"]
    if kind == "hall":
        data = {"code": code, "name": row["name"], "level": row.get("level"),
                "parent_code": row.get("parent") or None, "address": row.get("address") or None}
        existing = db.session.get(Hall, code)
        errors = _check_hall_fields(data, existing)
        if errors:
            raise ValidationFailed(errors)
        db.session.merge(Hall(**data))
    elif kind == "window":
        hall = row.get("hall")
        if not hall or db.session.get(Hall, hall) is None:
            raise ValidationFailed({"hall": [f"窗口所属大厅不存在：{hall or '（空）'}"]})
        window = db.session.execute(select(Window).where(Window.hall_code == hall, Window.code == code)) \
            .scalar_one_or_none()
        if window is None:
            db.session.add(Window(hall_code=hall, code=code, name=row["name"]))
        else:
            window.name = row["name"]
    elif kind == "item":
        if not row.get("department"):
            raise ValidationFailed({"department": ["事项必须填写实施部门"]})
        db.session.merge(ServiceItem(code=code, name=row["name"], department=row["department"]))
        db.session.flush()
        _set_item_halls(code, [h for h in (row.get("halls") or "").split("|") if h])
    else:
        applies = row.get("applies_to") or "any"
        if applies not in TAG_APPLIES:
            raise ValidationFailed({"applies_to": [one_of("标签适用范围", TAG_APPLIES)]})
        db.session.merge(Tag(code=code, label=row["name"], applies_to=applies))


def load_demo() -> dict:
    return import_csv(DEMO_CSV.read_text(encoding="utf-8"))


def with_department(stmt, group_by: str, source, item_column):
    """Joins each row's service item when metrics group by department (谁办理谁负责: the item's department).

    An outer join: a row with no item, or an item missing from the catalog, still counts, in the one row keyed
    null (未指定部门), so the department rows add up to the range's total like every other grouping."""
    if group_by != "department":
        return stmt
    return stmt.join_from(source, ServiceItem, ServiceItem.code == item_column, isouter=True)
