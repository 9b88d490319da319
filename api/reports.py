"""Rankings and the monthly report (JSON, or a printable HTML page with server-side SVG charts)."""
from flask import make_response, render_template
from flask.views import MethodView

from service import rankings, reports
from service.timeutil import iso

from .access import principal, requires
from .blueprint import Blueprint
from .charts import columns, hbar
from .schemas.common import check_month
from .schemas.stats import RankingOut, RankingQuery, ReportOut, ReportQuery

blp = Blueprint("reports", __name__, description="排名与月度报告", template_folder="templates")

_ranking_out = RankingOut()
_ranking_query = RankingQuery()
_report_out = ReportOut()
_report_query = ReportQuery()

KPIS = [("good_rate", "好评率"), ("bad_rate", "差评率"), ("active_rate", "主动评价率"), ("rectified_rate", "差评整改率"),
        ("on_time_rate", "按期整改率"), ("callback_rate", "回访率"), ("answer_satisfaction", "整改满意度")]


@blp.app_template_filter("pct")
def pct(value):
    return "—" if value is None else f"{value * 100:.1f}%"


@blp.app_template_filter("localtime")
def localtime(value):
    return iso(value).replace("T", " ")[:16]


@blp.route("/rankings")
class Rankings(MethodView):
    @requires("staff")
    @blp.arguments(_ranking_query, location="query")
    @blp.response(200, _ranking_out)
    def get(self, args):
        """按差评率排名（Wilson 置信下限）"""
        check_month(args["period"], "period")
        return rankings.rankings(principal(), month=args["period"], by=args["by"], hall=args.get("hall"))


@blp.route("/reports/monthly")
class MonthlyReport(MethodView):
    @requires("staff")
    @blp.arguments(_report_query, location="query")
    @blp.response(200, _report_out)
    @blp.alt_response(200, description="format=html：可打印的报告页面", content_type="text/html")
    def get(self, args):
        """月度报告（JSON 或 HTML）"""
        check_month(args.get("month"), "month")
        report = reports.monthly(principal(), hall=args.get("hall"), month=args.get("month"))
        if args["format"] == "html":
            page = render_template(
                "monthly_report.html", r=report, kpis=KPIS,
                daily_chart=columns([(d["day"], d["ratings"], d["bad"]) for d in report["daily"]]),
                tag_chart=hbar([(t["label"], t["share"] or 0) for t in report["tags"][:10]]),
                category_chart=hbar([(c["label"], c["count"]) for c in report["walkthroughs"]["by_category"]],
                                    fmt=lambda v: f"{int(v)} 个"))
            response = make_response(page)
            response.headers["Content-Type"] = "text/html; charset=utf-8"
            return response
        return {**report, "generated_at": iso(report["generated_at"])}
