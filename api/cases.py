"""Case routes (办件): staff register a finished case and get its single-use rating token."""
from flask.views import MethodView

from service import cases

from .access import principal, requires
from .blueprint import Blueprint
from .schemas.ratings import CaseIn, CaseOut

blp = Blueprint("cases", __name__, description="办件登记与评价码")

_case_in = CaseIn()
_case_out = CaseOut()


@blp.route("/cases")
class Cases(MethodView):
    @requires("staff")
    @blp.arguments(_case_in)
    @blp.response(201, _case_out)
    @blp.alt_response(200, schema=_case_out, description="同一办件重复登记：返回同一评价码")
    def post(self, data):
        """登记办件，获取评价码"""
        case, token, created = cases.register(principal(), data)
        body = {"case_no": case.case_no, "rating_token": token, "rate_before": case.rate_before}
        return body if created else (body, 200)
