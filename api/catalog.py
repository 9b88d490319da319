"""Catalog routes: public reads of halls, items and tags; admin writes."""
from flask.views import MethodView

from service import catalog

from .access import public, requires
from .blueprint import Blueprint
from .schemas.catalog import (
    HallDetail,
    HallIn,
    HallList,
    HallPatch,
    ItemDetail,
    ItemIn,
    ItemList,
    ItemPatch,
    ItemQuery,
    TagIn,
    TagList,
    TagOut,
    TagPatch,
    WindowIn,
    WindowOut,
    WindowPatch,
)

blp = Blueprint("catalog", __name__, description="服务目录：大厅、窗口、事项、评价标签")


def _hall_detail(hall):
    return {**{c: getattr(hall, c) for c in ("code", "name", "level", "parent_code", "address",
                                                "default_rating_enabled")},
            "windows": catalog.hall_windows(hall.code)}


@blp.route("/halls")
class Halls(MethodView):
    @public
    @blp.response(200, HallList)
    def get(self):
        """大厅列表"""
        return {"items": catalog.list_halls()}

    @requires("admin")
    @blp.arguments(HallIn)
    @blp.response(201, HallDetail)
    def post(self, data):
        """新增大厅（管理员）"""
        return _hall_detail(catalog.create_hall(data))


@blp.route("/halls/<code>")
class HallByCode(MethodView):
    @public
    @blp.response(200, HallDetail)
    def get(self, code):
        """大厅详情（含窗口）"""
        return _hall_detail(catalog.get_hall(code))

    @requires("admin")
    @blp.arguments(HallPatch)
    @blp.response(200, HallDetail)
    def patch(self, data, code):
        """修改大厅（管理员）"""
        return _hall_detail(catalog.update_hall(code, data))


@blp.route("/halls/<code>/windows")
class Windows(MethodView):
    @requires("admin")
    @blp.arguments(WindowIn)
    @blp.response(201, WindowOut)
    def post(self, data, code):
        """新增窗口（管理员）"""
        return catalog.create_window(code, data)


@blp.route("/halls/<code>/windows/<window>")
class WindowByCode(MethodView):
    @requires("admin")
    @blp.arguments(WindowPatch)
    @blp.response(200, WindowOut)
    def patch(self, data, code, window):
        """修改窗口（管理员）"""
        return catalog.update_window(code, window, data)


@blp.route("/items")
class Items(MethodView):
    @public
    @blp.arguments(ItemQuery, location="query")
    @blp.response(200, ItemList)
    def get(self, args):
        """服务事项（可按大厅筛选、按关键字搜索）"""
        return {"items": catalog.list_items(args.get("hall"), args.get("q"))}

    @requires("admin")
    @blp.arguments(ItemIn)
    @blp.response(201, ItemDetail)
    def post(self, data):
        """新增服务事项（管理员）"""
        item = catalog.create_item(data)
        return {"code": item.code, "name": item.name, "department": item.department,
                "halls": catalog.item_halls(item.code)}


@blp.route("/items/<code>")
class ItemByCode(MethodView):
    @requires("admin")
    @blp.arguments(ItemPatch)
    @blp.response(200, ItemDetail)
    def patch(self, data, code):
        """修改服务事项（管理员）"""
        item = catalog.update_item(code, data)
        return {"code": item.code, "name": item.name, "department": item.department,
                "halls": catalog.item_halls(item.code)}


@blp.route("/tags")
class Tags(MethodView):
    @public
    @blp.response(200, TagList)
    def get(self):
        """评价标签"""
        return {"items": catalog.list_tags()}

    @requires("admin")
    @blp.arguments(TagIn)
    @blp.response(201, TagOut)
    def post(self, data):
        """新增评价标签（管理员）"""
        return catalog.create_tag(data)


@blp.route("/tags/<code>")
class TagByCode(MethodView):
    @requires("admin")
    @blp.arguments(TagPatch)
    @blp.response(200, TagOut)
    def patch(self, data, code):
        """修改评价标签（管理员）"""
        return catalog.update_tag(code, data)
