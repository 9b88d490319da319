"""Rankings and the monthly report (JSON, or a printable HTML page with server-side SVG charts)."""
from flask.views import MethodView

from service import rankings, reports
from service.timeutil import iso

from . import printable
from .access import principal, requires
from .blueprint import Blueprint
from .schemas.common import check_month
from .schemas.stats import RankingOut, RankingQuery, ReportOut, ReportQuery

blp = Blueprint("reports", __name__, description="排名与月度报告", template_folder="templates")

_ranking_out = RankingOut()
_ranking_query = RankingQuery()
_report_out = ReportOut()
_report_query = ReportQuery()


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
            return printable.monthly_report(report)
        return {**report, "generated_at": iso(report["generated_at"])}
