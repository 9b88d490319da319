"""bench/sync: 50 tablets' offline batches (200 walkthroughs × 5 findings each) synced through gunicorn on SQLite.

Starts gunicorn (2 workers) on a fresh SQLite file under a temporary directory, creates a staff account through
the CLI, sends the batches, checks that what is stored equals what was sent, replays every batch (all must come
back `unchanged`), and prints findings/s, records/s and the peak RSS of the gunicorn processes. Beside it runs the
baseline a tablet would use without /sync: the same kind of records sent one POST /walkthroughs at a time.
"""
import argparse
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import BIN, ROOT, bench_env, require_free, start_gunicorn, stop

PREFIX = "/api/v1"
STEPS = ["consult", "ticket", "wait", "accept", "form", "submit_docs", "approve", "pay", "deliver", "rate", "online"]
CATEGORIES = ["materials", "process", "time_limit", "attitude", "efficiency", "disclosure", "facilities"]
ITEMS = ["SB-001", "SB-002", "YB-001", "YB-002", "GA-001", "MZ-001", "GJJ-001"]
MODES = ["accompany", "self", "incognito", "window_seat", "cross_department"]


def walkthrough(tablet: int, n: int, findings: int, started: datetime) -> dict:
    begin = started + timedelta(minutes=7 * n)
    return {
        "id": str(uuid.uuid4()), "hall": "HZ-XC", "item": ITEMS[n % len(ITEMS)], "mode": MODES[n % len(MODES)],
        "observer": {"name": f"体验员{tablet:02d}", "title": "科长"},
        "citizen": {"name": f"群众{n:03d}"} if n % 3 else None,
        "started_at": begin.isoformat(), "ended_at": (begin + timedelta(minutes=50)).isoformat(),
        "summary": "陪同群众办理，记录各环节等候与办理情况。", "status": "submitted" if n % 4 == 0 else "draft",
        "findings": [{
            "id": str(uuid.uuid4()), "step": STEPS[(n + j) % len(STEPS)], "category": CATEGORIES[(n + j) % len(CATEGORIES)],
            "description": f"第{j + 1}个问题：取号后等候约{5 + j}分钟，叫号屏信息不清楚，窗口告知材料要求不一致。",
            "severity": ("low", "medium", "high")[(n + j) % 3], "suggestion": "增设引导员，统一材料清单" if j % 2 else None,
            "needs_rectification": j % 2 == 0, "wait_minutes": 5 + j, "handle_minutes": 3 + j,
        } for j in range(findings)],
    }


class Api:
    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: bytes) -> tuple[int, dict]:
        self.conn.request("POST", PREFIX + path, body=body, headers=self.headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read())


def run_batches(port, token, bodies, concurrency) -> tuple[float, list]:
    """Sends every batch; `concurrency` tablets at a time, each on its own keep-alive connection."""
    results: list = [None] * len(bodies)
    next_index = iter(range(len(bodies)))
    lock = threading.Lock()

    def tablet():
        api = Api(port, token)
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            status, body = api.post("/sync", bodies[i])
            if status != 200:
                raise SystemExit(f"sync failed: {status} {body}")
            results[i] = body["results"]

    threads = [threading.Thread(target=tablet) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, results


def peak_rss_kib(master_pid: int) -> dict[int, int]:
    """VmHWM (peak resident set) of the gunicorn master and each of its workers."""
    pids = [master_pid] + [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid(p) == master_pid]
    peaks = {}
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks[pid] = int(line.split()[1])
    return peaks


def _ppid(proc: Path) -> int | None:
    try:
        for line in (proc / "status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tablets", type=int, default=50, help="number of batches (one per tablet)")
    parser.add_argument("--batch", type=int, default=200, help="walkthroughs per batch")
    parser.add_argument("--findings", type=int, default=5, help="findings per walkthrough")
    parser.add_argument("--concurrency", type=int, default=2, help="tablets syncing at the same time")
    parser.add_argument("--baseline", type=int, default=200, help="walkthroughs sent one POST at a time")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8130)))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    require_free(args.port)

    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    db_path = tmp / "bench.db"
    env = {**os.environ, **bench_env(DATABASE_URL=f"sqlite:///{db_path}")}

    def flask(*cli) -> str:
        return subprocess.run([str(BIN / "flask"), *cli], cwd=ROOT, env=env, check=True, capture_output=True,
                              text=True).stdout

    flask("db", "upgrade")
    flask("catalog", "demo")
    token = flask("accounts", "create", "--role", "staff", "--hall", "HZ-XC", "--name", "bench-平板").strip()
    token = token.splitlines()[-1]

    started = datetime.now(UTC) - timedelta(days=30)
    batches = [[walkthrough(t, n, args.findings, started) for n in range(args.batch)] for t in range(args.tablets)]
    bodies = [json.dumps({"walkthroughs": b}, ensure_ascii=False).encode() for b in batches]
    singles = [json.dumps(walkthrough(99, n, args.findings, started), ensure_ascii=False).encode()
               for n in range(args.baseline)]
    sent_w = args.tablets * args.batch
    sent_f = sent_w * args.findings

    server = start_gunicorn("wsgi:app", args.port, env, workers=args.workers)
    try:
        elapsed, results = run_batches(args.port, token, bodies, args.concurrency)
        outcomes = [r["outcome"] for batch in results for r in batch]
        replay_elapsed, replayed = run_batches(args.port, token, bodies, args.concurrency)
        replay_outcomes = [r["outcome"] for batch in replayed for r in batch]

        api = Api(args.port, token)
        start = time.perf_counter()
        for body in singles:
            status, _ = api.post("/walkthroughs", body)
            if status != 201:
                raise SystemExit(f"baseline POST failed: {status}")
        single_elapsed = time.perf_counter() - start
        peaks = peak_rss_kib(server.pid)
    finally:
        stop(server)

    with sqlite3.connect(db_path) as conn:
        stored_w = conn.execute("SELECT count(*) FROM walkthroughs").fetchone()[0] - args.baseline
        stored_f = conn.execute("SELECT count(*) FROM findings").fetchone()[0] - args.baseline * args.findings
    ok = (outcomes.count("created") == sent_w and replay_outcomes.count("unchanged") == sent_w
          and (stored_w, stored_f) == (sent_w, sent_f))

    findings_rate = sent_f / elapsed
    single_rate = args.baseline * args.findings / single_elapsed
    print(f"bench/sync — {args.tablets} batches × {args.batch} walkthroughs × {args.findings} findings, "
          f"{args.workers} gunicorn workers, {args.concurrency} tablets at a time, a fresh SQLite file")
    print(f"  batch size           {sum(map(len, bodies)) / len(bodies) / 1024:.0f} KiB on average")
    print(f"  sync                 {elapsed:.2f} s: {findings_rate:,.0f} findings/s, {sent_w / elapsed:,.0f} "
          f"walkthroughs/s, {(sent_w + sent_f) / elapsed:,.0f} records/s (walkthroughs + findings)")
    print(f"  replay (unchanged)   {replay_elapsed:.2f} s: {sent_w / replay_elapsed:,.0f} walkthroughs/s")
    print(f"  baseline, 1 POST per walkthrough: {single_rate:,.0f} findings/s → /sync is "
          f"{findings_rate / single_rate:.1f}× the baseline")
    print("  peak RSS (VmHWM)     " + ", ".join(f"pid {pid}: {kib / 1024:.0f} MiB" for pid, kib in peaks.items())
          + f"; total {sum(peaks.values()) / 1024:.0f} MiB")
    print(f"  stored               {stored_w} walkthroughs, {stored_f} findings (sent {sent_w}, {sent_f}); "
          f"outcomes {outcomes.count('created')} created, replay {replay_outcomes.count('unchanged')} unchanged")
    fast = findings_rate >= 2000
    print(f"{'PASS' if fast else 'FAIL'}  ≥ 2,000 findings/s stored: {findings_rate:,.0f}")
    print(f"{'PASS' if ok else 'FAIL'}  stored and replayed counts equal what was sent")
    if not ok:
        sys.exit(f"stored data differs from what was sent; database kept in {tmp}")
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if fast else 1)


if __name__ == "__main__":
    main()
