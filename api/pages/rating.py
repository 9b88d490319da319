"""The citizen's pages: rate a case (/r/{token}) or a window (/w/{hall}/{window}), then follow the 差评 (/my/{id}).

Every form works without JavaScript (a plain POST to the page's own route, calling the same service functions as the
API); with JavaScript the rating form posts JSON to POST /api/v1/ratings instead. Either way the idempotency key is
made once per page load, so a double tap or a retry never rates twice."""
import secrets

from flask import redirect, request, url_for
from marshmallow import ValidationError

from service import catalog, follow_ups, rating_tokens, ratings, rectification_rater
from service.database import end_unit_of_work
from service.errors import Conflict, NotFound, ServiceError, ValidationFailed
from service.vocab import LEVELS, is_bad

from ..errors import validation_problem
from ..schemas.ratings import RatingDetail, RatingIn
from .common import error_page, page_blueprint, render

RATING_DETAIL = RatingDetail()
blp = page_blueprint("rating_pages", __name__)
RATING_IN = RatingIn()
CHANNEL = "qrcode"  # both pages are opened by scanning a code: the 办件回执's, or the window's
LEVEL_CHOICES = [(score, label) for score, (_, label) in LEVELS.items()]  # 5 (非常满意) first
CLOSED = {
    "rated": ("该办件已评价", "每个办件只能评价一次，感谢您的参与。如对处理结果有疑问，可凭评价后保存的链接查看。"),
    "expired": ("评价期已结束", "该办件的评价期已结束，不能再评价。如有意见，可扫描窗口上的二维码评价大厅服务。"),
    "unknown": ("评价码无效", "没有找到这个评价码。请核对办件回执上的二维码，或向窗口工作人员咨询。"),
}


def submit_rating(data: dict, idempotency_key: str | None) -> ratings.Created:
    """The rating intake, as POST /api/v1/ratings calls it (the created rating with its receipt)."""
    client = ratings.Client(ip=request.remote_addr or "", client_id=request.headers.get("X-Client-Id"))
    return ratings.submit(data, client=client, idempotency_key=idempotency_key, raw_body=data)


# ---- the form ------------------------------------------------------------------------------------------------
def _tags() -> list[dict]:
    return [{"code": t.code, "label": t.label, "applies_to": t.applies_to} for t in catalog.list_tags()]


def _rating_from_form(base: dict) -> dict:
    """The JSON body the script would send, from the plain form."""
    form = request.form
    body = dict(base)
    score = form.get("score", "")
    if score:
        body["score"] = int(score) if score.isdigit() else score
    if form.getlist("tags"):
        body["tags"] = form.getlist("tags")
    if form.get("comment", "").strip():
        body["comment"] = form["comment"].strip()
    if isinstance(body.get("score"), int) and 1 <= body["score"] <= 5 and is_bad(body["score"]) \
            and form.get("contact") == "1":
        body["anonymous"] = False
        body["name"] = form.get("name", "").strip() or None
        body["phone"] = form.get("phone", "").strip() or None
    return body


def _form_page(info: dict, *, status: int = 200, errors: dict | None = None, detail: str | None = None,
               values: dict | None = None, key: str | None = None):
    return render("pages/rate.html", status, info=info, levels=LEVEL_CHOICES, tags=_tags(),
                  key=key or secrets.token_urlsafe(18), errors=errors or {}, detail=detail,
                  values=values or {}, form_tags=set((values or {}).get("tags") or []))


def _closed_page(kind: str, status: int = 200):
    title, message = CLOSED[kind]
    return render("pages/closed.html", status, title=title, message=message)


def _post_rating(info: dict, base: dict):
    """The no-script path: validate like the API, submit, then show the rater's page (303, so a reload is a GET)."""
    body = _rating_from_form(base)
    key = request.form.get("key") or None
    try:
        data = RATING_IN.load(body)
    except ValidationError as error:
        errors, detail = validation_problem(error.messages)
        return _form_page(info, status=422, errors=errors, detail=detail, values=body, key=key)
    try:
        created = submit_rating(data, key)
    except ValidationFailed as error:
        if error.code == "invalid_rating_token":
            return _closed_page("unknown", 404)
        return _form_page(info, status=422, errors=error.errors, detail=error.detail, values=body, key=key)
    except Conflict as error:
        if error.code in ("already_rated", "rating_window_closed"):
            return _closed_page("rated" if error.code == "already_rated" else "expired", 409)
        return _form_page(info, status=409, detail=error.detail, values=body, key=key)
    except ServiceError as error:
        if error.status == 429:
            return error_page(429, error.detail)
        return _form_page(info, status=error.status, detail=error.detail, values=body, key=key)
    return redirect(url_for("rating_pages.mine", rating_id=created.id, receipt=created.receipt, new=1), 303)


@blp.route("/r/<token>", methods=["GET", "POST"])
def rate_case(token):
    try:
        info = rating_tokens.describe(token)
    except NotFound:
        return _closed_page("unknown", 404)
    info |= {"rating_token": token}
    if request.method == "POST":
        # Even for a case rated already: a retry of this page's own post answers its first rating again.
        return _post_rating(info, {"rating_token": token, "channel": CHANNEL})
    if info["status"] != "open":
        return _closed_page(info["status"])
    return _form_page(info)


@blp.route("/w/<hall>/<window>", methods=["GET", "POST"])
def rate_window(hall, window):
    info = rating_tokens.describe_window(hall, window)
    if request.method == "POST":
        base = {"hall": hall, "window": window, "channel": CHANNEL}
        if request.form.get("item"):
            base["item"] = request.form["item"]
        return _post_rating(info, base)
    return _form_page(info)


# ---- the rater's page ----------------------------------------------------------------------------------------
def _rating_for_rater(rating_id: int, receipt: str) -> dict:
    """What GET /api/v1/ratings/{id}?receipt= answers, shaped by the same schema."""
    client = ratings.Client(ip=request.remote_addr or "")
    return RATING_DETAIL.dump(ratings.get_for_rater(rating_id, receipt, client=client))


def _mine_page(rating_id: int, receipt: str, *, status: int = 200, notice: str | None = None):
    rating = _rating_for_rater(rating_id, receipt)
    labels = {t["code"]: t["label"] for t in _tags()}
    hall = catalog.get_hall(rating["hall"])
    link = url_for("rating_pages.mine", rating_id=rating_id, receipt=receipt, _external=True)
    answer = (rating["rectification"] or {}).get("rater_satisfaction")
    window_name = next((w.name for w in catalog.hall_windows(hall.code) if w.code == rating["window"]), None)
    return render("pages/mine.html", status, rating=rating, hall_name=hall.name, receipt=receipt, link=link,
                  window_name=window_name or rating["window"],
                  tag_labels=[labels.get(code, code) for code in rating["tags"]], levels=LEVEL_CHOICES,
                  level_labels=dict(LEVEL_CHOICES), answer_bad=answer is not None and is_bad(answer),
                  new=request.args.get("new") == "1", answered=request.args.get("answered") == "1", notice=notice)


@blp.route("/my/<int:rating_id>")
def mine(rating_id):
    receipt = request.args.get("receipt", "")
    if not receipt:
        return error_page(404, "请使用评价后保存的链接（含回执）打开本页。")
    return _mine_page(rating_id, receipt)


@blp.route("/my/<int:rating_id>/follow-up", methods=["POST"])
def follow_up(rating_id):
    """追评 without JavaScript: the same service function as POST /api/v1/ratings/{id}/follow-up."""
    receipt = request.form.get("receipt", "")
    comment = request.form.get("comment", "").strip()
    if not comment or len(comment) > 500:
        return _mine_page(rating_id, receipt, status=422, notice="追评内容应为 1 到 500 个字。")
    try:
        follow_ups.follow_up(rating_id, receipt, comment, [])
    except Conflict as error:
        end_unit_of_work()  # the refused write's transaction ends before the page reads again
        return _mine_page(rating_id, receipt, status=409, notice=error.detail)
    return redirect(url_for("rating_pages.mine", rating_id=rating_id, receipt=receipt), 303)


@blp.route("/my/<int:rating_id>/answer", methods=["POST"])
def answer(rating_id):
    receipt = request.form.get("receipt", "")
    score = request.form.get("score", "")
    if score not in {"1", "2", "3", "4", "5"}:
        return _mine_page(rating_id, receipt, status=422, notice="请选择您对整改结果的满意程度。")
    try:
        rectification_rater.answer_satisfaction(rating_id, receipt, int(score))
    except Conflict as error:
        end_unit_of_work()  # the refused write's transaction ends before the page reads (and counts) again
        return _mine_page(rating_id, receipt, status=409, notice=error.detail)
    return redirect(url_for("rating_pages.mine", rating_id=rating_id, receipt=receipt, answered=1), 303)
