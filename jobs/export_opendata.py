"""Job (nightly): write the anonymised open-data file (评价结果公开) to OPENDATA_PATH."""
from flask import current_app

from service import jobruns, opendata

NAME = "export_opendata"


def _work(now, watermark):
    return opendata.export(current_app.config["OPENDATA_PATH"]), None


def run(holder: str | None = None):
    return jobruns.execute(NAME, _work, holder=holder)
