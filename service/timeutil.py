"""Time helpers: everything is stored in UTC and shown, dated and counted in Asia/Shanghai."""
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(UTC)


def local_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset that the clients show as is."""
    return None if moment is None else moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, SHANGHAI).astimezone(UTC)


def end_of_day(day: date) -> datetime:
    """The last instant of a calendar day in Asia/Shanghai (a deadline 'by end of that day')."""
    return start_of_day(day + timedelta(days=1)) - timedelta(microseconds=1)
