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

_hall_detail = HallDetail()
_hall_in = HallIn()
_hall_list = HallList()
_hall_patch = HallPatch()
_item_detail = ItemDetail()
_item_in = ItemIn()
_item_list = ItemList()
_item_patch = ItemPatch()
_item_query = ItemQuery()
_tag_in = TagIn()
_tag_list = TagList()
_tag_out = TagOut()
_tag_patch = TagPatch()
_window_in = WindowIn()
_window_out = WindowOut()
_window_patch = WindowPatch()


def _hall_with_windows(hall):
    return {**{c: getattr(hall, c) for c in ("code", "name", "level", "parent_code", "address",
                                                "default_rating_enabled")},
            "windows": catalog.hall_windows(hall.code)}


@blp.route("/halls")
class Halls(MethodView):
    @public
    @blp.response(200, _hall_list)
    def get(self):
        """大厅列表"""
        return {"items": catalog.list_halls()}

    @requires("admin")
    @blp.arguments(_hall_in)
    @blp.response(201, _hall_detail)
    def post(self, data):
        """新增大厅（管理员）"""
        return _hall_with_windows(catalog.create_hall(data))


@blp.route("/halls/<code>")
class HallByCode(MethodView):
    @public
    @blp.response(200, _hall_detail)
    def get(self, code):
        """大厅详情（含窗口）"""
        return _hall_with_windows(catalog.get_hall(code))

    @requires("admin")
    @blp.arguments(_hall_patch)
    @blp.response(200, _hall_detail)
    def patch(self, data, code):
        """修改大厅（管理员）"""
        return _hall_with_windows(catalog.update_hall(code, data))


@blp.route("/halls/<code>/windows")
class Windows(MethodView):
    @requires("admin")
    @blp.arguments(_window_in)
    @blp.response(201, _window_out)
    def post(self, data, code):
        """新增窗口（管理员）"""
        return catalog.create_window(code, data)


@blp.route("/halls/<code>/windows/<window>")
class WindowByCode(MethodView):
    @requires("admin")
    @blp.arguments(_window_patch)
    @blp.response(200, _window_out)
    def patch(self, data, code, window):
        """修改窗口（管理员）"""
        return catalog.update_window(code, window, data)


@blp.route("/items")
class Items(MethodView):
    @public
    @blp.arguments(_item_query, location="query")
    @blp.response(200, _item_list)
    def get(self, args):
        """服务事项（可按大厅筛选、按关键字搜索）"""
        return {"items": catalog.list_items(args.get("hall"), args.get("q"))}

    @requires("admin")
    @blp.arguments(_item_in)
    @blp.response(201, _item_detail)
    def post(self, data):
        """新增服务事项（管理员）"""
        item = catalog.create_item(data)
        return {"code": item.code, "name": item.name, "department": item.department,
                "halls": catalog.item_halls(item.code)}


@blp.route("/items/<code>")
class ItemByCode(MethodView):
    @requires("admin")
    @blp.arguments(_item_patch)
    @blp.response(200, _item_detail)
    def patch(self, data, code):
        """修改服务事项（管理员）"""
        item = catalog.update_item(code, data)
        return {"code": item.code, "name": item.name, "department": item.department,
                "halls": catalog.item_halls(item.code)}


@blp.route("/tags")
class Tags(MethodView):
    @public
    @blp.response(200, _tag_list)
    def get(self):
        """评价标签"""
        return {"items": catalog.list_tags()}

    @requires("admin")
    @blp.arguments(_tag_in)
    @blp.response(201, _tag_out)
    def post(self, data):
        """新增评价标签（管理员）"""
        return catalog.create_tag(data)


@blp.route("/tags/<code>")
class TagByCode(MethodView):
    @requires("admin")
    @blp.arguments(_tag_patch)
    @blp.response(200, _tag_out)
    def patch(self, data, code):
        """修改评价标签（管理员）"""
        return catalog.update_tag(code, data)
