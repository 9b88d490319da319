"""The printable HTML documents (the monthly report, the 体验反馈表): one rendering each, with one security policy,
for the API route (?format=html) and the console alike."""
from flask import make_response, render_template

from service.timeutil import SHANGHAI

from .charts import columns, hbar

# Inline styles only (server-rendered SVG charts, no script), never framed, no form posts anywhere.
PRINT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; "
             "form-action 'none'; frame-ancestors 'none'")
# The report's headline figures, in the order the page shows them.
KPIS = [("good_rate", "好评率"), ("bad_rate", "差评率"), ("active_rate", "主动评价率"), ("rectified_rate", "差评整改率"),
        ("on_time_rate", "按期整改率"), ("verify_on_time_rate", "核实及时率"), ("callback_rate", "回访率"),
        ("named_callback_rate", "实名差评回访率"), ("answer_satisfaction", "整改满意度")]


def page(html: str):
    response = make_response(html)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = PRINT_CSP
    return response


def monthly_report(report: dict):
    return page(render_template(
        "monthly_report.html", r=report, kpis=KPIS,
        daily_chart=columns([(d["day"], d["ratings"], d["bad"]) for d in report["daily"]]),
        tag_chart=hbar([(t["label"], t["share"] or 0) for t in report["tags"][:10]]),
        category_chart=hbar([(c["label"], c["count"]) for c in report["walkthroughs"]["by_category"]],
                            fmt=lambda v: f"{int(v)} 个")))


def feedback_form(form):
    return page(render_template("walkthrough_feedback.html", form=form,
                                local=lambda moment: moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")))
