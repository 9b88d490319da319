"""JSON and print routes behind the pages: what a rating token names (public), QR codes for cases and windows (staff)."""
import io

import segno
from flask import make_response, render_template, url_for
from flask.views import MethodView
from marshmallow import fields, validate

from service import rating_tokens

from .. import printable
from ..access import principal, public, requires
from ..blueprint import Blueprint
from ..schemas.common import BaseSchema, LocalDateTime

blp = Blueprint("page_support", __name__, description="评价页面：评价码信息与二维码")


class RatingTokenOut(BaseSchema):
    hall = fields.String()
    hall_name = fields.String()
    item = fields.String()
    item_name = fields.String()
    window = fields.String(metadata={"description": "办件登记了窗口时才有"})
    window_name = fields.String(allow_none=True)
    rate_before = LocalDateTime()
    status = fields.String(metadata={"enum": ["open", "rated", "expired"]})


class QrQuery(BaseSchema):
    hall = fields.String(required=True, validate=validate.Length(1, 32), metadata={"description": "办件所属大厅"})


def qr_svg(url: str, *, scale: int = 4, title: str | None = None) -> str:
    """An SVG QR code of this address (error correction M: still reads when a printed code is scuffed)."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="svg", scale=scale, border=4, xmldecl=False,
                                                 svgns=True, title=title, unit=None)
    return out.getvalue().decode()


@blp.route("/rating-tokens/<token>")
class RatingToken(MethodView):
    @public
    @blp.response(200, RatingTokenOut)
    @blp.alt_response(404, description="评价码无效（code: not_found）")
    def get(self, token):
        """评价码对应的办件信息与可评价状态（评价页面评价前显示）"""
        return rating_tokens.describe(token)


@blp.route("/cases/<case_no>/qr.svg")
class CaseQr(MethodView):
    @requires("staff")
    @blp.arguments(QrQuery, location="query")
    @blp.response(200, description="SVG 二维码，指向 /r/{评价码}", content_type="image/svg+xml")
    @blp.alt_response(404, description="办件不存在或不在权限范围内（code: not_found）")
    def get(self, args, case_no):
        """办件评价二维码（SVG，印在办件回执上）"""
        token = rating_tokens.case_rating_token(principal(), args["hall"], case_no)
        svg = qr_svg(url_for("rating_pages.rate_case", token=token, _external=True), title=f"办件 {case_no} 评价码")
        response = make_response(svg)
        response.headers["Content-Type"] = "image/svg+xml"
        response.headers["Cache-Control"] = "private, no-store"  # the code is the case's rating credential
        return response


@blp.route("/halls/<code>/qr-sheet")
class HallQrSheet(MethodView):
    @requires("staff")
    @blp.response(200, description="可打印的 HTML 页面：每个窗口一个二维码，指向 /w/{大厅}/{窗口}",
                  content_type="text/html")
    @blp.alt_response(404, description="大厅不存在或不在权限范围内（code: not_found）")
    def get(self, code):
        """大厅各窗口评价二维码（可打印）"""
        return qr_sheet_response(rating_tokens.hall_windows(principal(), code))


def qr_sheet_response(sheet: dict):
    windows = []
    for w in sheet["windows"]:
        url = url_for("rating_pages.rate_window", hall=sheet["hall"], window=w["code"], _external=True)
        windows.append({**w, "url": url, "svg": qr_svg(url, scale=5, title=f"{w['name']} 评价二维码")})
    return printable.page(render_template("pages/qr_sheet.html", sheet=sheet, windows=windows))
