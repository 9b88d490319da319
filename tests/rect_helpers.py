"""Helpers for the rectification tests: ratings and walkthroughs written straight into the tables, jobs run."""
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select

from jobs import JOBS
from models import Finding, ItemEvent, Rating, RectificationItem, RectificationList, Walkthrough, db
from service.receipts import receipt_for
from service.timeutil import local_date, now
from tests.helpers import API


def make_rating(score=1, hall="HZ-XC", *, at: datetime | None = None, comment="窗口排队太久", **extra) -> dict:
    at = at or now()
    phone = extra.pop("phone", None)
    if phone:
        from service.security import encrypt, mask_phone  # reason: only the few tests of a named rater need it

        extra.update(phone_enc=encrypt(phone), phone_masked=mask_phone(phone))
    rating = Rating(hall_code=hall, item_code=extra.pop("item", "SB-001"), window_code=extra.pop("window", "04"),
                    score=score, channel="miniprogram", comment=comment, anonymous=extra.pop("anonymous", True), is_default=False,
                    effective=True, created_at=at, rated_on=local_date(at), **extra)
    db.session.add(rating)
    db.session.commit()
    return {"id": rating.id, "receipt": receipt_for(rating.id)}


def make_walkthrough(hall="HZ-XC", *, status="submitted", findings=((True, "排队叫号系统故障"), (False, "指引清楚")),
                     item="SB-001"):
    wid = str(uuid.uuid4())
    stamp = now()
    walk = Walkthrough(id=wid, hall_code=hall, item_code=item, mode="accompany", observer_name="李科长",
                       started_at=stamp - timedelta(hours=1), ended_at=stamp, status=status,
                       submitted_at=stamp if status == "submitted" else None, content_hash="0" * 64)
    walk.findings = [Finding(id=str(uuid.uuid4()), position=i, step="wait", category="efficiency",
                             description=text, severity="medium", needs_rectification=needs)
                     for i, (needs, text) in enumerate(findings)]
    db.session.add(walk)
    db.session.commit()
    return walk


def run(name: str):
    result = JOBS[name](holder="test")
    assert result.status == "ok", result.error
    fresh()
    return result


def fresh() -> None:
    """End the test's read transaction: on SQLite (WAL) it would keep seeing the snapshot it started with."""
    db.session.commit()
    db.session.expire_all()


def count(model, *where) -> int:
    fresh()
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def table_counts() -> dict:
    return {m.__tablename__: count(m) for m in (RectificationList, RectificationItem, ItemEvent, Rating)}


def item_of_rating(rating_id: int) -> RectificationItem:
    fresh()
    return db.session.execute(select(RectificationItem).where(
        RectificationItem.source == "rating", RectificationItem.source_id == str(rating_id))).scalar_one()


def act(client, headers, item_id, action, *, if_match=None, **fields):
    hdrs = dict(headers)
    if if_match is not None:
        hdrs["If-Match"] = str(if_match)
    return client.post(f"{API}/rectifications/{item_id}/actions", json={"action": action, **fields}, headers=hdrs)


def rater_view(client, rating):
    response = client.get(f"{API}/ratings/{rating['id']}", query_string={"receipt": rating["receipt"]})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["rectification"]


class Clock:
    """A controlled clock: every module of ours that imported `service.timeutil.now` reads this one instead."""

    def __init__(self, monkeypatch, moment: datetime):
        import sys

        from service import timeutil

        self.moment = moment
        real = timeutil.now
        for name, module in list(sys.modules.items()):
            if name.split(".")[0] in ("service", "jobs", "api", "factory", "tests") and \
                    getattr(module, "now", None) is real:
                monkeypatch.setattr(module, "now", self)
        monkeypatch.setattr(timeutil, "now", self)

    def __call__(self) -> datetime:
        return self.moment

    def set(self, day, hour: int = 10) -> datetime:
        """Move to `hour` o'clock (Asia/Shanghai) of a calendar day."""
        from service.timeutil import start_of_day

        self.moment = start_of_day(day) + timedelta(hours=hour)
        return self.moment
