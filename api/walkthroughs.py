"""Walkthrough routes (我陪群众走流程): tablet upserts and batch sync, scoped reads, submit, the 体验反馈表."""
from flask.views import MethodView

from service import walkthrough_sync, walkthroughs
from service.security import mask_free_text

from . import printable
from .access import principal, public, requires
from .blueprint import Blueprint
from .hooks import body_limit, records_checked_alone
from .schemas.common import take_page
from .schemas.walkthroughs import (
    FeedbackOut,
    FeedbackQuery,
    SyncIn,
    SyncOut,
    Vocabularies,
    WalkthroughIn,
    WalkthroughList,
    WalkthroughListQuery,
    WalkthroughOut,
)

blp = Blueprint("walkthroughs", __name__, description="我陪群众走流程：走流程记录、平板离线同步、体验反馈表")

# The printable page needs nothing but its own inline styles.
_vocabularies, _walkthrough_in, _walkthrough_out = Vocabularies(), WalkthroughIn(), WalkthroughOut()
_list_query, _list = WalkthroughListQuery(), WalkthroughList()
_feedback_query, _feedback_out, _sync_in, _sync_out = FeedbackQuery(), FeedbackOut(), SyncIn(), SyncOut()


# The printable 体验反馈表 shows free text as the JSON answers do: phone and ID numbers masked.
blp.app_template_filter("masked")(mask_free_text)


@blp.route("/walkthrough-vocabularies")
class VocabulariesView(MethodView):
    @public
    @blp.response(200, _vocabularies)
    def get(self):
        """走流程表单的取值：体验方式、办事环节、问题类别、严重程度、状态（含中文名称）"""
        return walkthroughs.vocabularies(), 200, {"Cache-Control": "public, max-age=300"}


@blp.route("/walkthroughs")
class Walkthroughs(MethodView):
    @requires("staff")
    @blp.arguments(_walkthrough_in)
    @blp.response(201, _walkthrough_out, description="新建")
    @blp.alt_response(200, schema=_walkthrough_out, description="已存在：草稿已更新，或内容相同未作改动")
    def post(self, data):
        """新建或更新走流程记录（按客户端 UUID 幂等；提交后只读）"""
        body, outcome = walkthrough_sync.upsert(principal(), data)
        return (body, 201) if outcome == walkthrough_sync.CREATED else (body, 200)

    @requires("staff")
    @blp.arguments(_list_query, location="query")
    @blp.response(200, _list)
    def get(self, args):
        """走流程记录列表（按权限范围，新同步的在前）"""
        cursor, limit, args = take_page(args)
        return walkthroughs.list_for(principal(), args, cursor=cursor, limit=limit)


@blp.route("/walkthroughs/<walkthrough_id>")
class WalkthroughById(MethodView):
    @requires("staff")
    @blp.response(200, _walkthrough_out)
    def get(self, walkthrough_id):
        """查看走流程记录"""
        return walkthroughs.get(principal(), walkthrough_id)


@blp.route("/walkthroughs/<walkthrough_id>/submit")
class SubmitWalkthrough(MethodView):
    @requires("staff")
    @blp.response(200, _walkthrough_out)
    def post(self, walkthrough_id):
        """提交走流程记录（提交后只读；重复提交返回同一记录）"""
        return walkthroughs.submit(principal(), walkthrough_id)


@blp.route("/walkthroughs/<walkthrough_id>/feedback")
class Feedback(MethodView):
    @requires("staff")
    @blp.arguments(_feedback_query, location="query")
    @blp.response(200, _feedback_out, description="体验反馈表；format=html 时返回可打印的 HTML 页面（text/html）")
    @blp.doc(responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}}})
    def get(self, args, walkthrough_id):
        """体验反馈表（JSON，或 ?format=html 的可打印页面）"""
        form = walkthroughs.feedback(principal(), walkthrough_id)
        if args["format"] != "html":
            return form
        return printable.feedback_form(form)


@blp.route("/sync")
class Sync(MethodView):
    @requires("staff")
    @blp.arguments(_sync_in)
    @blp.response(200, _sync_out)
    @body_limit("SYNC_MAX_BODY_BYTES")
    @records_checked_alone
    def post(self, data):
        """平板批量同步：逐条保存或拒绝，坏记录不影响其他记录；重放同一批次不改变任何数据"""
        return {"results": walkthrough_sync.sync(principal(), data["walkthroughs"])}
