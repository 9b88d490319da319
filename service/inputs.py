"""What the service can take in and store, whoever receives it (the API's body check, a tablet batch's records):
dates within the supported years, and text without NUL or lone UTF-16 surrogates."""
import re
from datetime import date

# A year 1 or 9999 would overflow the conversions to Asia/Shanghai and the month arithmetic, and no real record of
# this service lies outside these years.
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
DATE_RANGE_MESSAGE = f"日期超出支持范围（{EARLIEST.isoformat()} 至 {LATEST.isoformat()}）"

MONTH_FORMAT_MESSAGE = "月份应为四位年份和两位月份，例如 2026-10"

# The characters are named in words: a person reads these, and an escape such as \u0000 means nothing to them.
NUL_MESSAGE = "文本中不能包含空字符"
SURROGATE_MESSAGE = "文本中含有无效字符（不成对的代理项），请删除后重试"
_SURROGATE = re.compile("[\ud800-\udfff]")


def in_supported_range(day: date) -> bool:
    return EARLIEST <= day <= LATEST


def text_problem(value: str) -> str | None:
    """Why no database can store this text (PostgreSQL refuses NUL; no driver encodes a lone surrogate), or None."""
    if "\x00" in value:
        return NUL_MESSAGE
    if not value.isascii() and _SURROGATE.search(value):
        return SURROGATE_MESSAGE
    return None


def unstorable_text(value, path: tuple = ()) -> tuple[tuple, str] | None:
    """(path, message) of the first string (or key) in a JSON value that cannot be stored, else None."""
    if isinstance(value, str):
        message = text_problem(value)
        return (path, message) if message else None
    if isinstance(value, dict):
        for key, item in value.items():
            message = text_problem(key)
            if message:
                return path, message
            found = unstorable_text(item, (*path, key))
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_text(item, (*path, str(index)))
            if found:
                return found
    return None


def unstorable_text_errors(value) -> dict | list | None:
    """Every string of a value that cannot be stored, as errors shaped like the value
    ({"findings": {"0": {"description": [...]}}})."""
    if isinstance(value, str):
        message = text_problem(value)
        return [message] if message else None
    if isinstance(value, dict | list):
        pairs = value.items() if isinstance(value, dict) else ((str(i), v) for i, v in enumerate(value))
        found = {key: errors for key, v in pairs if (errors := unstorable_text_errors(v))}
        return found or None
    return None
