"""bench/stats' timing and verdicts: the figures of each size, requests to the sizes interleaved (ROUNDS rounds of
RUNS/ROUNDS requests per figure and size, one size after the other), so that the machine's load falls on every size
alike; medians, p90, the growth from the smallest size to the largest, PASS/FAIL per target. Exits 1 on a FAIL.

    stats_report.py CONFIG_JSON    {"runs", "rounds", "baseline_port", "sizes": [{"ratings", "port", "token", "db",
                                    "collect_wall", "rollup_wall", "rollup_again_wall"}]}
"""
import json
import os
import sqlite3
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_timing import summary, timed  # noqa: E402 - the bench directory is not a package

TARGET_MS = 300
MAX_GROWTH = 1.3
LINEAR_SLACK = 1.1  # collect's first run may grow 1.1 × as fast as the data (linear), not more


def figures() -> dict[str, str]:
    """The figures' paths, dated from today (or from TODAY=YYYY-MM-DD: an earlier day makes ranges that start and
    end inside a month, read partly from daily rows)."""
    today = date.fromisoformat(os.environ["TODAY"]) if os.environ.get("TODAY") else date.today()
    last_month_end = today.replace(day=1) - timedelta(days=1)
    year = f"from={today - timedelta(days=365)}&to={today - timedelta(days=1)}"
    month = f"from={last_month_end.replace(day=1)}&to={last_month_end}"
    period = last_month_end.strftime("%Y-%m")
    return {"/stats by hall, a year": f"/api/v1/stats?group_by=hall&{year}",
            "/stats by window, a year": f"/api/v1/stats?group_by=window&{year}",
            "/stats by department, a year": f"/api/v1/stats?group_by=department&{year}",
            "/stats by day, a month": f"/api/v1/stats?group_by=day&{month}",
            "/rankings by window, a month": f"/api/v1/rankings?period={period}&by=window",
            "/rankings by department, a month": f"/api/v1/rankings?period={period}&by=department"}


def collect_seconds(db: str) -> float:
    """The first collect_bad_ratings run's own duration, as the job recorded it (no CLI start-up)."""
    with sqlite3.connect(db) as con:
        started, finished = con.execute("SELECT started_at, finished_at FROM job_runs WHERE job = "
                                        "'collect_bad_ratings' ORDER BY id LIMIT 1").fetchone()
    return (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()


def raw_year_scan_ms(db: str) -> float:
    today = date.today()
    with sqlite3.connect(db) as con:
        start = time.perf_counter()
        con.execute("SELECT hall_code, count(*), sum(score <= 2) FROM ratings WHERE effective AND rated_on BETWEEN ? "
                    "AND ?", (str(today - timedelta(days=365)), str(today - timedelta(days=1)))).fetchall()
        return (time.perf_counter() - start) * 1000


def main(config: dict) -> bool:
    sizes, paths = config["sizes"], figures()
    rounds = config["rounds"]
    per_round = max(1, config["runs"] // rounds)
    samples = {(s["ratings"], name): [] for s in sizes for name in paths}
    for _ in range(rounds):
        for name, path in paths.items():
            for s in sizes:
                samples[(s["ratings"], name)] += timed(s["port"], path, {"Authorization": f"Bearer {s['token']}"},
                                                       per_round)
    base = summary(timed(config["baseline_port"], "/api/v1/stats", {}, per_round * rounds))
    first, last = sizes[0], sizes[-1]
    growth_of_data = last["ratings"] / first["ratings"]
    ok = True
    print(f"\n{per_round * rounds} timed requests per figure and size, in {rounds} interleaved rounds; "
          f"targets: median ≤ {TARGET_MS} ms at every size" +
          (f", growth ≤ {MAX_GROWTH}× from {first['ratings']:,} to {last['ratings']:,} ratings" if len(sizes) > 1 else ""))
    head = "".join(f"{format(s['ratings'], ',') + ' ratings':>21}   " for s in sizes)
    print(f"\n{'figure':<36}{head}{'growth' if len(sizes) > 1 else ''}")
    print(f"{'':<36}" + f"{'median':>11}{'p90':>10}   " * len(sizes))
    for name in paths:
        stats = [summary(samples[(s["ratings"], name)]) for s in sizes]
        cells = "".join(f"{st['median_ms']:>8.1f} ms{st['p90_ms']:>7.1f} ms   " for st in stats)
        passed = all(st["median_ms"] <= TARGET_MS for st in stats)
        verdict = f"{'PASS' if passed else 'FAIL'} (median ≤ {TARGET_MS} ms)"
        if len(sizes) > 1:
            growth = stats[-1]["median_ms"] / stats[0]["median_ms"]
            grew_ok = growth <= MAX_GROWTH
            passed &= grew_ok
            verdict = f"{growth:5.2f}×  {'PASS' if passed else 'FAIL'} (median ≤ {TARGET_MS} ms, ≤ {MAX_GROWTH}×)"
        ok &= passed
        print(f"{name:<36}{cells}{verdict}")
    jobs = [collect_seconds(s["db"]) for s in sizes]
    cells = "".join(f"{j:>9.2f} s{'':>13}" for j in jobs)
    line = f"{'collect_bad_ratings, first run':<36}{cells}"
    if len(sizes) > 1:
        growth, limit = jobs[-1] / jobs[0], LINEAR_SLACK * growth_of_data
        ok &= growth <= limit
        line += f"{growth:5.2f}×  {'PASS' if growth <= limit else 'FAIL'} (≤ {limit:.1f}× for {growth_of_data:.1f}× the data)"
    print(line)
    for label, key in (("  the command, with start-up (wall)", "collect_wall"), ("rollup, first run (wall)", "rollup_wall"),
                       ("rollup, nothing new (wall)", "rollup_again_wall")):
        print(f"{label:<36}" + "".join(f"{float(s[key]):>9.2f} s{'':>13}" for s in sizes))
    print(f"{'reference: raw SQL scan of the year':<36}" +
          "".join(f"{raw_year_scan_ms(s['db']):>8.1f} ms{'':>13}" for s in sizes))
    print(f"{'baseline: bare Flask GET':<36}{base['median_ms']:>8.1f} ms{base['p90_ms']:>7.1f} ms")
    print("\n" + "\n".join(f"  {name}: {path}" for name, path in paths.items()))
    print("PASS" if ok else "FAIL")
    return ok


if __name__ == "__main__":
    sys.exit(0 if main(json.loads(sys.argv[1])) else 1)
