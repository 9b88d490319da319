"""Monthly rankings by 差评率, ordered by a Wilson score bound so that small samples do not top the list."""
import math
from datetime import date

from .auth import Principal
from .errors import ValidationFailed
from .inputs import MONTH_FORMAT_MESSAGE
from .metrics import Period, _labels, _rating_rows, halls_in_scope, rate
from .vocab import one_of

UNITS = {"window": "窗口", "item": "事项", "hall": "大厅", "staff": "工作人员", "department": "部门"}
Z = 1.96  # 95 %


def wilson_lower_bound(bad: int, n: int, z: float = Z) -> float | None:
    """Lower bound of the 差评率 with the continuity-corrected Wilson interval (Newcombe 1998).

    The correction matters at the small end: 1 差评 out of 1 rating gets 0.055, below 40 out of 400 (0.073),
    where the plain Wilson bound would still rank the single rating first (0.207).
    """
    if n == 0:
        return None
    if bad == 0:
        return 0.0
    p = bad / n
    root = math.sqrt(z * z - 2 - 1 / n + 4 * p * (n * (1 - p) + 1))
    return round(max(0.0, (2 * n * p + z * z - 1 - z * root) / (2 * (n + z * z))), 4)


def month_period(month: str) -> Period:
    try:
        year, mon = (int(part) for part in month.split("-"))
        start = date(year, mon, 1)
        end = date(year + (mon == 12), mon % 12 + 1, 1)  # inside: 9999-12 has no next month
    except (ValueError, TypeError):
        raise ValidationFailed({"period": [MONTH_FORMAT_MESSAGE]}) from None
    return Period(start, date.fromordinal(end.toordinal() - 1))


def previous_month(month: str) -> str:
    start = month_period(month).start
    prev = date.fromordinal(start.toordinal() - 1)
    return f"{prev.year:04d}-{prev.month:02d}"


def _ranked(by: str, halls, month: str) -> list[dict]:
    counts = _rating_rows(by, halls, month_period(month))
    rows = [{"key": key, "ratings": n, "bad": bad, "bad_rate": rate(bad, n), "bound": wilson_lower_bound(bad, n)}
            for key, (n, bad, _good) in counts.items() if key is not None and n]
    rows.sort(key=lambda r: (-r["bound"], -r["bad"], -r["ratings"], r["key"]))
    for position, row in enumerate(rows, start=1):
        row["rank"] = position
    return rows


def _worst_decile(rows: list[dict]) -> set:
    """The worst tenth of the ranked units (at least one), among those with any 差评 at all."""
    if not rows:
        return set()
    size = max(1, math.ceil(len(rows) / 10))
    return {r["key"] for r in rows[:size] if r["bad"]}


def rankings(principal: Principal, *, month: str, by: str = "window", hall: str | None = None) -> dict:
    if by not in UNITS:
        raise ValidationFailed({"by": [one_of("排名对象", UNITS)]})
    halls = halls_in_scope(principal, hall)
    current = _ranked(by, halls, month)
    last_month = previous_month(month)
    before = _ranked(by, halls, last_month)
    last_rank = {r["key"]: r["rank"] for r in before}
    worst_now, worst_before = _worst_decile(current), _worst_decile(before)
    labels = _labels(by, [r["key"] for r in current])
    for row in current:
        row["label"] = labels.get(row["key"], row["key"])
        row["rank_last_month"] = last_rank.get(row["key"])
        row["worst_decile_two_months"] = row["key"] in worst_now and row["key"] in worst_before
    return {"period": month, "by": by, "items": current}

