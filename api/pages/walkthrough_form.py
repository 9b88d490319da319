"""The walkthrough form for tablets (/console/walkthroughs/new): a walkthrough and its findings, each under the step
of the procedure where it was seen.

With script (api/static/pages-walk.js) the tablet keeps every record in localStorage first and sends the pending ones
through POST /console/sync (the session's twin of POST /api/v1/sync) whenever it is online; a small service worker
(/console/walkthroughs/sw.js) keeps the page and its assets, so the form opens offline after one visit. Without
script the same form posts here: finding rows are added and removed by plain submit buttons, the record is stored
through the same walkthrough_sync.sync, and a rejected record comes back with its errors beside the fields.

Form field names are the API's field paths joined by "-" (observer-name, findings-0-step), so an error's path in a
sync result names the field it belongs to, here and in the script."""
import re
import uuid

from flask import current_app, g, jsonify, make_response, redirect, render_template, request, url_for
from marshmallow import ValidationError

from service import catalog, walkthrough_sync, walkthroughs
from service.errors import ValidationFailed
from service.timeutil import SHANGHAI, now

from ..errors import FIELD_LABELS, validation_problem
from ..schemas.walkthroughs import MAX_FINDINGS, SyncIn
from .common import ASSET_VERSION, render
from .console import blp, signed_in

SYNC_IN = SyncIn()
ROW_FIELD = re.compile(r"findings-(\d+)-([a-z_]+)$")
FINDING_FIELDS = ("id", "step", "category", "severity", "description", "needs_rectification")
LOCAL_MINUTE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$")  # what <input type=datetime-local> sends
OUTCOMES = {"created": "已保存", "updated": "已更新", "unchanged": "已保存（内容无变化）"}
# The names a rejected record's errors may carry, in Chinese: the script labels the reasons it shows with them.
LABEL_KEYS = ("id", "hall", "item", "mode", "observer", "name", "title", "started_at", "ended_at", "summary",
              "status", "findings", "step", "category", "description", "severity", "needs_rectification", "record")


def _blank_finding(step: str | None = None) -> dict:
    return {"id": str(uuid.uuid4()), "step": step or "", "category": "", "severity": "medium", "description": "",
            "needs_rectification": True}


def _blank_values() -> dict:
    return {"id": str(uuid.uuid4()), "hall": g.principal.hall_code or "", "item": "", "mode": "",
            "observer-name": "", "observer-title": "", "started_at": now().astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M"),
            "ended_at": "", "summary": "", "submitted": True, "findings": [_blank_finding()]}


def _values_from_form() -> dict:
    """The posted form as the template shows it again: the record's fields and the finding rows in order."""
    form = request.form
    rows: dict[int, dict] = {}
    for key, value in form.items():
        match = ROW_FIELD.match(key)
        if match and int(match.group(1)) < MAX_FINDINGS and match.group(2) in FINDING_FIELDS:
            rows.setdefault(int(match.group(1)), {})[match.group(2)] = value.strip()
    findings = [{**_blank_finding(), **row, "needs_rectification": row.get("needs_rectification") == "1"}
                for _, row in sorted(rows.items())]
    values = {name: form.get(name, "").strip() for name in ("id", "hall", "item", "mode", "observer-name",
                                                            "observer-title", "started_at", "ended_at", "summary")}
    return values | {"submitted": form.get("submit_now") == "1", "findings": findings}


def _moment(value: str) -> str:
    """A time typed on the form (no offset) is the hall's local time; anything else goes to the schema as typed."""
    if not LOCAL_MINUTE.match(value):
        return value
    return f"{value}{':00' if len(value) == 16 else ''}+08:00"


def _record(values: dict) -> dict:
    """The JSON record the script would sync; finding rows left without a description are not findings."""
    record = {"id": values["id"], "hall": values["hall"], "item": values["item"], "mode": values["mode"],
              "observer": {"name": values["observer-name"]}, "started_at": _moment(values["started_at"]),
              "status": "submitted" if values["submitted"] else "draft",
              "findings": [{k: f[k] for k in FINDING_FIELDS} for f in values["findings"] if f["description"]]}
    if values["observer-title"]:
        record["observer"]["title"] = values["observer-title"]
    if values["ended_at"]:
        record["ended_at"] = _moment(values["ended_at"])
    if values["summary"]:
        record["summary"] = values["summary"]
    return record


def _field_errors(errors, path: tuple = ()) -> dict[str, str]:
    """A rejected record's errors keyed by form field name ("findings-1-description")."""
    if isinstance(errors, dict):
        out: dict[str, str] = {}
        for key, value in errors.items():
            out |= _field_errors(value, (*path, str(key)))
        return out
    messages = errors if isinstance(errors, list) else [errors]
    return {"-".join(path) or "record": "；".join(str(m) for m in messages if not isinstance(m, dict | list))}


def _described(name: str, message: str) -> str:
    label = next((FIELD_LABELS[k] for k in reversed(name.split("-")) if k in FIELD_LABELS), None)
    return f"{label}：{message}" if label else message


def _form_page(values: dict, *, status: int = 200, errors: dict | None = None, saved: str | None = None):
    field_errors = _field_errors(errors or {})
    # The fields with an error slot beside them; the rest (the hidden ids, the record as a whole) go in the alert.
    known = {f"findings-{i}-{k}" for i in range(len(values["findings"])) for k in FINDING_FIELDS if k != "id"} | \
        {"hall", "item", "mode", "observer-name", "observer-title", "started_at", "ended_at", "summary"}
    return render("pages/console/walkthrough.html", status, principal=g.principal, csrf=g.csrf, values=values,
                  field_errors=field_errors, other_errors=[_described(k, m) for k, m in field_errors.items() if k not in known],
                  saved=saved, halls=sorted(g.principal.halls or []) or [h.code for h in catalog.list_halls()],
                  items=catalog.list_items(), vocab=walkthroughs.vocabularies(), blank=_blank_finding(),
                  labels={k: FIELD_LABELS[k] for k in LABEL_KEYS})


@blp.route("/walkthroughs/new")
@signed_in
def walkthrough_form():
    return _form_page(_blank_values(), saved=OUTCOMES.get(request.args.get("saved", "")))


@blp.route("/walkthroughs/new", methods=["POST"])
@signed_in
def walkthrough_post():
    """The form without script: add or remove a finding row, or store the record (303 back to a fresh form)."""
    values = _values_from_form()
    findings = values["findings"]
    if "add_finding" in request.form:
        if len(findings) < MAX_FINDINGS:
            findings.append(_blank_finding(findings[-1]["step"] if findings else None))
        return _form_page(values)
    if request.form.get("remove_finding", "").isdigit():
        index = int(request.form["remove_finding"])
        values["findings"] = [f for i, f in enumerate(findings) if i != index] or [_blank_finding()]
        return _form_page(values)
    record = _record(values)
    values["findings"] = [f for f in findings if f["description"]] or [_blank_finding()]  # as numbered in errors
    (result,) = walkthrough_sync.sync(g.principal, SYNC_IN.load({"walkthroughs": [record]})["walkthroughs"])
    if result["outcome"] == walkthrough_sync.REJECTED:
        return _form_page(values, status=422, errors=result["errors"])
    return redirect(url_for("console.walkthrough_form", saved=result["outcome"]), 303)


@blp.route("/sync", methods=["POST"])
@signed_in
def sync():
    """POST /api/v1/sync for the signed-in tablet: the same schema and service call, answered the same way."""
    request.max_content_length = current_app.config["SYNC_MAX_BODY_BYTES"]
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify({"code": "malformed_json", "detail": "请求体不是有效的 JSON"}), 400
    try:
        data = SYNC_IN.load(body)
        return jsonify({"results": walkthrough_sync.sync(g.principal, data["walkthroughs"])})
    except ValidationError as error:
        errors, detail = validation_problem(error.messages)
        return jsonify({"code": "validation_error", "detail": detail, "errors": errors}), 422
    except ValidationFailed as error:
        return jsonify({"code": error.code, "detail": error.detail, "errors": error.errors}), error.status


@blp.route("/walkthroughs/sw.js")
def service_worker():
    """The form's service worker: its scope is /console/walkthroughs/ (the script's own folder), so it sees nothing
    else of the console. Public: it holds only the form's address and the asset addresses of this release."""
    assets = [url_for("page_assets.static", filename=name, v=ASSET_VERSION)
              for name in ("pages.css", "pages.js", "pages-walk.js")]
    body = render_template("pages/console/walk-sw.js", cache=f"hf-walk-{ASSET_VERSION}",
                           page=url_for("console.walkthrough_form"), assets=assets)
    response = make_response(body)
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    response.headers["Cache-Control"] = "no-cache"
    return response
