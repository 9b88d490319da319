"""Metrics routes: /stats and /stats/tags, scoped to the caller's halls."""
from flask.views import MethodView

from service import metrics

from .access import principal, requires
from .blueprint import Blueprint
from .schemas.stats import StatsOut, StatsQuery, TagStatsOut, TagStatsQuery

blp = Blueprint("stats", __name__, description="统计指标：好评率、差评率、主动评价率、整改率等")

_stats_out = StatsOut()
_stats_query = StatsQuery()
_tag_stats_out = TagStatsOut()
_tag_stats_query = TagStatsQuery()


@blp.route("/stats")
class Stats(MethodView):
    @requires("staff")
    @blp.arguments(_stats_query, location="query")
    @blp.response(200, _stats_out)
    def get(self, args):
        """分组统计指标"""
        period = metrics.period_of(args.get("from_"), args.get("to"))
        rows = metrics.stats(principal(), hall=args.get("hall"), start=period.start, end=period.end,
                             group_by=args["group_by"], source=args["source"])
        return {"group_by": args["group_by"], "source": args["source"], "from_": period.start, "to": period.end, "rows": rows}


@blp.route("/stats/tags")
class TagStats(MethodView):
    @requires("staff")
    @blp.arguments(_tag_stats_query, location="query")
    @blp.response(200, _tag_stats_out)
    def get(self, args):
        """评价标签数量与占比"""
        result = metrics.tag_stats(principal(), hall=args.get("hall"), start=args.get("from_"), end=args.get("to"))
        return {**result, "from_": result.pop("from")}
