"""Operational routes for the scheduler: recent job runs."""
from flask.views import MethodView

from service import jobruns

from .access import principal, requires
from .blueprint import Blueprint
from .schemas.rectification import JobRunList, JobRunQuery

blp = Blueprint("jobs", __name__, description="定时任务运行记录")

_query, _runs = JobRunQuery(), JobRunList()


@blp.route("/jobs")
class JobRuns(MethodView):
    @requires("supervisor")
    @blp.arguments(_query, location="query")
    @blp.response(200, _runs)
    def get(self, args):
        """最近的定时任务运行记录"""
        return {"items": jobruns.recent(principal(), job=args.get("job"), limit=args["limit"])}
