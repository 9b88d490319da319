"""bench/ratings helpers: sample a gunicorn tree's RSS and print the comparison table (rows are counted by
`bench/common.py count`, on SQLite or PostgreSQL).

    ratings_report.py rss MASTER_PID OUT        sum VmRSS of the master and its workers every 50 ms until killed
    ratings_report.py report OUT_DIR ROUNDS     read OUT_DIR/{ours,baseline}-N.{wrk,rss,rows} and print the table;
                                                exit status 1 when a target is missed
"""
import json
import signal
import statistics
import sys
import time
from pathlib import Path

TARGET_RATIO = 0.6
TARGET_P99_MS = 50.0


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def sample_rss(master: int, out: str) -> None:
    peak = 0
    stop = False

    def finish(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    while not stop:
        peak = max(peak, sum(_rss_kb(p) for p in [master, *_children(master)]))
        Path(out).write_text(str(peak))
        time.sleep(0.05)


def _load(out: Path, name: str) -> dict:
    wrk = next(json.loads(line.removeprefix("BENCH_JSON "))
               for line in (out / f"{name}.wrk").read_text().splitlines() if line.startswith("BENCH_JSON "))
    wrk["rss_kb"] = int((out / f"{name}.rss").read_text())
    wrk["rows"] = int((out / f"{name}.rows").read_text())
    wrk["rps"] = wrk["created"] / (wrk["duration_us"] / 1e6)
    # wrk stops on the clock and abandons what is in flight; the server still finishes and stores those.
    wrk["in_flight"] = wrk["sent"] - wrk["received"]
    errors = {k: v for k, v in wrk["errors"].items() if v and k != "status"}
    wrk["stored_ok"] = wrk["rows"] == wrk["created"] + wrk["in_flight"] and wrk["other"] == 0 and not errors
    return wrk


def _row(label: str, r: dict) -> str:
    lat = r["latency_us"]
    return (f"{label:<22}{r['rps']:>10.0f}{lat['p50'] / 1000:>9.1f}{lat['p99'] / 1000:>9.1f}"
            f"{r['rss_kb'] / 1024:>13.1f}{r['created']:>9}{r['other']:>7}{r['in_flight']:>7}{r['rows']:>8}"
            f"  {'ok' if r['stored_ok'] else 'MISMATCH'}")


def report(out: Path, rounds: int) -> int:
    head = (f"{'':<22}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'peak RSS MB':>13}{'201s':>9}{'non2xx':>7}"
            f"{'inflt':>7}{'rows':>8}  rows = 201s + in-flight")
    print(head)
    print("-" * len(head))
    ratios, p99s, all_ok = [], [], True
    for n in range(1, rounds + 1):
        ours, base = _load(out, f"ours-{n}"), _load(out, f"baseline-{n}")
        tag = f" (round {n})" if rounds > 1 else ""
        print(_row("ours" + tag, ours))
        print(_row("baseline" + tag, base))
        ratios.append(ours["rps"] / base["rps"])
        p99s.append(ours["latency_us"]["p99"] / 1000)
        all_ok &= ours["stored_ok"] and base["stored_ok"]
        for name, r in (("ours", ours), ("baseline", base)):
            if r["other"] or any(r["errors"].values()):
                print(f"  {name}{tag}: non-2xx {r['other_statuses'] or 0}, socket errors {r['errors']}")
    ratio, p99 = statistics.median(ratios), max(p99s)
    print("-" * len(head))
    print(f"ratio ours/baseline (requests/s): {', '.join(f'{r:.2f}' for r in ratios)}"
          + (f"  median {ratio:.2f}" if rounds > 1 else ""))
    checks = [(f"ratio >= {TARGET_RATIO}", ratio >= TARGET_RATIO, f"{ratio:.2f}"),
              (f"ours p99 < {TARGET_P99_MS:.0f} ms", p99 < TARGET_P99_MS, f"{p99:.1f} ms"),
              ("stored rows = 201s (+ in-flight), no non-2xx", all_ok, "ok" if all_ok else "mismatch")]
    for name, ok, value in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {value}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "rss":
        sample_rss(int(sys.argv[2]), sys.argv[3])
    elif cmd == "report":
        sys.exit(report(Path(sys.argv[2]), int(sys.argv[3])))
    else:
        sys.exit(__doc__)
