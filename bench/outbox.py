"""bench/outbox's driver: events from ratings posted through the API (gunicorn, wrk with bench/ratings.lua) and from
the items their 差评 become (collect_bad_ratings), delivered by `flask jobs serve` to bench/outbox_receiver.py.

1. throughput: a backlog of EVENTS events, then the scheduler starts; events/s at the receiver;
2. outage: another backlog of EVENTS; the receiver goes down for OUTAGE seconds when half of it has arrived; the
   backlog's age (GET /api/v1/health) over time, and how long it takes to drain once the receiver is back;
3. intake: wrk on POST /api/v1/ratings with the scheduler stopped and running, alternately (stopped, running,
   running, stopped, ROUNDS times; delivery has caught up before each running round): the median requests/s
   running ÷ the median stopped; the receiver runs at nice RECEIVER_NICE (19: it stands in for a system on another
   machine), the scheduler at its JOBS_NICE;
4. the whole outbox against the receiver's log: lost, out of order per subject, sent twice, bad signatures.

Usage (bench/outbox sets up the database and the environment):
    outbox.py DATABASE_URL PORT WORK EVENTS OUTAGE DURATION ROUNDS CONNECTIONS THREADS WORKERS
"""
import http.client
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from common import BIN, ROOT, start_gunicorn, stop
from sqlalchemy import create_engine, text

TARGET_EVENTS_PER_S, TARGET_DRAIN_S, TARGET_RATIO = 2000, 60, 0.9
EVENTS_PER_RATING = 9 / 5  # bench/ratings.lua's five bodies: 5 rating.created, 2 rating.bad, 2 items (转办)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children (gunicorn's workers), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") + sum(cpu_seconds(int(c)) for c in children)


class Bench:
    def __init__(self, url, port, work, events, outage, duration, rounds, connections, threads, workers):
        self.url, self.port, self.work = url, port, Path(work)
        self.events, self.outage, self.duration, self.rounds = events, outage, duration, rounds
        self.connections, self.threads, self.workers = connections, threads, workers
        self.engine = create_engine(url)
        self.receiver_port = port + 1
        self.log = self.work / "received.log"
        self.receiver = self.scheduler = self.gunicorn = None
        self.wrk_runs = 0

    # ---- processes ---------------------------------------------------------------------------------------------
    def flask(self, *args) -> str:
        return subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout

    def receiver_up(self) -> None:
        # It stands in for a system on another machine, so it takes as little of this machine's CPU as the kernel
        # allows: nice RECEIVER_NICE (19), in a session of its own whose autogroup nice is set too (a nice value
        # only weighs against the session's other processes; service/priority.py says more).
        nice = os.environ.get("RECEIVER_NICE", "19")
        self.receiver = subprocess.Popen(["nice", "-n", nice, str(BIN / "python"), "bench/outbox_receiver.py",
                                          str(self.receiver_port), self.secret, str(self.log)], cwd=ROOT,
                                         start_new_session=True)
        try:
            Path(f"/proc/{self.receiver.pid}/autogroup").write_text(nice)
        except OSError:
            pass  # no autogroups here: the nice value above does it
        deadline = time.monotonic() + 10
        while self.stats() is None:
            if time.monotonic() > deadline:
                raise SystemExit("the receiver did not start")
            time.sleep(0.05)

    def receiver_down(self) -> None:
        stop(self.receiver)

    def scheduler_start(self) -> None:
        # The deployment's defaults (DELIVERY_* from the environment if set); other jobs on their usual interval.
        self.scheduler = subprocess.Popen([str(BIN / "flask"), "jobs", "serve"], cwd=ROOT, start_new_session=True,
                                          stdout=open(self.work / "scheduler.log", "a"), stderr=subprocess.STDOUT)

    def scheduler_stop(self) -> None:
        if self.scheduler is not None:
            stop(self.scheduler)

    def stats(self) -> dict | None:
        return self.get(self.receiver_port, "/stats")

    def health(self) -> dict:
        return self.get(self.port, "/api/v1/health")["events"]

    @staticmethod
    def get(port: int, path: str) -> dict | None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path)
            body = conn.getresponse().read()
            conn.close()
            return json.loads(body)
        except OSError:
            return None

    def scalar(self, sql: str):
        with self.engine.connect() as conn:
            return conn.execute(text(sql)).scalar()

    def wrk(self, seconds: float) -> dict:
        """wrk posting hall ratings for `seconds`; its BENCH_JSON summary with requests/s of 201s."""
        self.wrk_runs += 1
        out = subprocess.run(["wrk", f"-t{self.threads}", f"-c{self.connections}", f"-d{max(1, round(seconds))}s",
                              "--timeout", "10s", "-s", "bench/ratings.lua", f"http://127.0.0.1:{self.port}", "--",
                              f"o{self.wrk_runs}", "/api/v1/ratings"], cwd=ROOT, check=True, capture_output=True,
                             text=True).stdout
        summary = json.loads(next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))[11:])
        if summary["other"] or any(summary["errors"][k] for k in ("connect", "read", "write", "timeout")):
            raise SystemExit(f"the intake answered other than 201: {summary}")
        summary["rps"] = summary["created"] / (summary["duration_us"] / 1e6)
        return summary

    # ---- phases ------------------------------------------------------------------------------------------------
    def backlog(self, events: int) -> int:
        """Post ratings (delivery stopped) until they and their items make `events` new events; returns the top
        event id."""
        start = self.scalar("SELECT count(*) FROM outbox_events")
        rate = None
        while True:
            have = self.scalar("SELECT count(*) FROM outbox_events") - start
            bad_waiting = self.scalar("SELECT count(*) FROM ratings r WHERE score <= 2 AND NOT EXISTS (SELECT 1 FROM "
                                      "rectification_items i WHERE i.source = 'rating' AND "
                                      "i.source_id = CAST(r.id AS VARCHAR))")
            missing = events - have - bad_waiting
            if missing <= 0:
                break
            ratings = missing / EVENTS_PER_RATING
            seconds = min(60, max(1, ratings / (rate or 500)))  # a first guess of 500 ratings/s
            rate = self.wrk(seconds)["rps"]
        self.flask("jobs", "run", "collect_bad_ratings")
        return self.scalar("SELECT max(id) FROM outbox_events")

    def received(self) -> int:
        return (self.stats() or {}).get("received", 0)

    def wait_received(self, count: int, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while self.received() < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what} ({self.received():,} of {count:,} received)")
            time.sleep(0.05)

    def wait_drained(self, timeout: float) -> float:
        started = time.monotonic()
        while True:
            events = self.health()
            if events and events["pending"] == 0 and events["oldest_pending_seconds"] is None:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                return math.inf
            time.sleep(0.25)

    def arrivals(self) -> list[tuple[int, float]]:
        rows = []
        for line in self.log.read_text().splitlines():
            event, _ok, at = line.split()
            rows.append((int(event), float(at)))
        return rows

    def throughput(self) -> float:
        before = self.received()
        total = self.scalar("SELECT count(*) FROM outbox_events")
        print(f"\n1. throughput: {total - before:,} events waiting; scheduler started")
        receiver_cpu = cpu_seconds(self.receiver.pid)
        self.scheduler_start()
        if self.wait_drained(600) == math.inf:
            raise SystemExit("the backlog was not delivered within 600 s")
        time.sleep(0.3)  # the receiver writes its log every 0.1 s
        scheduler_cpu, receiver_cpu = cpu_seconds(self.scheduler.pid), cpu_seconds(self.receiver.pid) - receiver_cpu
        self.scheduler_stop()
        times = [at for _, at in self.arrivals()[before:]]
        rate = len(times) / max(times[-1] - times[0], 1e-6)
        print(f"   {len(times):,} events in {times[-1] - times[0]:.1f} s at the receiver: {rate:,.0f} events/s; CPU "
              f"per event: scheduler {scheduler_cpu / len(times) * 1e6:.0f} µs (start-up included), receiver "
              f"{receiver_cpu / len(times) * 1e6:.0f} µs")
        return rate

    def outage_phase(self) -> float:
        before = self.received()
        total = self.scalar("SELECT count(*) FROM outbox_events")
        half = before + (total - before) // 2
        print(f"\n2. outage: {total - before:,} events waiting; the receiver goes down for {self.outage} s when "
              f"{half - before:,} have arrived")
        self.scheduler_start()
        t0 = time.monotonic()
        samples, marks = [], {}

        def sample(mark: str = ""):
            events = self.health() or {}
            samples.append((time.monotonic() - t0, events.get("pending"), events.get("oldest_pending_seconds"), mark))

        self.wait_received(half, 600, "half of the backlog")
        self.receiver_down()
        marks["down"] = time.monotonic()
        sample("receiver down")
        while time.monotonic() - marks["down"] < self.outage:
            time.sleep(1)
            sample()
        self.receiver_up()
        marks["up"] = time.monotonic()
        sample("receiver back")
        drain = math.inf
        while time.monotonic() - marks["up"] < TARGET_DRAIN_S * 2:
            time.sleep(1)
            events = self.health()
            if events and events["pending"] == 0 and events["oldest_pending_seconds"] is None:
                drain = time.monotonic() - marks["up"]
                sample("drained")
                break
            sample()
        self.scheduler_stop()
        step = max(1, len(samples) // 25)
        for i, (t, pending, age, mark) in enumerate(samples):
            if mark or i % step == 0:
                print(f"   t={t:6.1f} s  pending {pending if pending is not None else '?':>7}  oldest "
                      f"{'-' if age is None else f'{age} s':>6}  {mark}")
        print(f"   drained {drain:.1f} s after the receiver came back" if drain < math.inf
              else f"   not drained {TARGET_DRAIN_S * 2} s after the receiver came back")
        return drain

    def intake(self) -> float:
        print(f"\n3. intake: wrk -t{self.threads} -c{self.connections} -d{self.duration}s POST /api/v1/ratings, "
              f"delivery stopped / running / running / stopped, {self.rounds} time(s) (CPU per rating from /proc)")
        rates = defaultdict(list)
        for running in (False, True, True, False) * self.rounds:
            if running:  # started if stopped; caught up with what the last round left, as a quiet hour would
                if self.scheduler is None or self.scheduler.poll() is not None:
                    self.scheduler_start()
                if self.wait_drained(300) == math.inf:
                    raise SystemExit("delivery did not catch up before the running round")
            else:
                self.scheduler_stop()
            procs = {"intake": self.gunicorn, "delivery": self.scheduler if running else None,
                     "receiver": self.receiver}
            before = {name: cpu_seconds(p.pid) if p else 0.0 for name, p in procs.items()}
            result = self.wrk(self.duration)
            cpu = {name: (cpu_seconds(p.pid) - before[name] if p else 0.0) * 1000 / result["created"]
                   for name, p in procs.items()}
            rates[running].append(result["rps"])
            lag = f"; delivery behind by {self.health()['pending']:,} at the end" if running else ""
            print(f"   delivery {'running' if running else 'stopped'}: {result['rps']:,.0f} requests/s; CPU per "
                  f"rating: intake {cpu['intake']:.2f} ms, delivery {cpu['delivery']:.2f} ms, receiver "
                  f"{cpu['receiver']:.2f} ms{lag}")
        ratio = statistics.median(rates[True]) / statistics.median(rates[False])
        print(f"   ratio running ÷ stopped (medians): {ratio:.2f}")
        return ratio

    def audit(self) -> dict:
        """Every event in the outbox against the receiver's log (in arrival order)."""
        self.scheduler_stop()
        self.flask("jobs", "run", "collect_bad_ratings")  # the items of the last rounds' 差评, before the count
        with self.engine.connect() as conn:
            subject = dict(conn.execute(text("SELECT id, subject FROM outbox_events")).all())
        self.scheduler_start()
        deadline = time.monotonic() + 600
        while not set(subject) <= {event for event, _ in self.arrivals()} and time.monotonic() < deadline:
            time.sleep(1)
        self.scheduler_stop()
        expected = defaultdict(list)
        for event in sorted(subject):
            expected[subject[event]].append(event)
        position = dict.fromkeys(expected, 0)
        seen, twice, out_of_order = set(), 0, 0
        for event, _ in self.arrivals():
            if event in seen:
                twice += 1
                continue
            seen.add(event)
            s = subject.get(event)
            if s is None:
                out_of_order += 1  # not an event of ours
                print(f"   out of order: event {event} is not in the outbox")
                continue
            queue = expected[s]
            if queue[position[s]] != event:
                out_of_order += 1  # an earlier event of its subject has not arrived yet
                print(f"   out of order: event {event} of {s} before {queue[position[s]]}")
            while position[s] < len(queue) and queue[position[s]] in seen:
                position[s] += 1
        stats = self.stats() or {}
        lost = sorted(set(subject) - seen)
        if lost:  # what the outbox and the deliveries say of them, to tell a bench artefact from a real loss
            with self.engine.connect() as conn:
                for row in conn.execute(text(
                        "SELECT e.id, e.type, e.subject, e.occurred_at, d.status, d.attempts, d.last_error "
                        "FROM outbox_events e LEFT JOIN deliveries d ON d.event_id = e.id "
                        "WHERE e.id IN (" + ",".join(map(str, lost[:10])) + ")")).all():
                    print(f"   lost: {tuple(row)}")
        return {"events": len(subject), "lost": len(lost), "out_of_order": out_of_order,
                "twice": twice, "bad_signatures": stats.get("bad_signatures", -1)}

    def setup(self) -> None:
        self.flask("calendar", "import")
        self.flask("catalog", "demo")
        events = ["rating.created", "rating.bad", "rating.followed_up", "rectification.created",
                  "rectification.status_changed", "rectification.due_soon", "rectification.overdue",
                  "rectification.closed", "list.closed", "walkthrough.submitted"]
        self.secret = self.flask("subscriptions", "add", "--name", "部门系统（压测）", "--url",
                                 f"http://127.0.0.1:{self.receiver_port}/hook", "--events",
                                 ",".join(events)).strip().splitlines()[-1]
        self.receiver_up()
        self.gunicorn = start_gunicorn("wsgi:app", self.port, dict(os.environ), workers=self.workers,
                                       log=open(self.work / "gunicorn.log", "a"))

    def run(self) -> int:
        try:
            self.setup()
        except (subprocess.CalledProcessError, SystemExit) as exc:
            print(f"setup failed: {exc}", getattr(exc, "stderr", "") or "", file=sys.stderr)
            for proc in (self.gunicorn, self.receiver):
                if proc is not None:
                    stop(proc)
            return 2
        try:
            print(f"making a backlog of {self.events:,} events (ratings through the API, then collect_bad_ratings) …")
            self.backlog(self.events)
            rate = self.throughput()
            print(f"\nmaking another backlog of {self.events:,} events …")
            self.backlog(self.events)
            drain = self.outage_phase()
            ratio = self.intake()
            audit = self.audit()
        finally:
            for proc in (self.scheduler, self.gunicorn, self.receiver):
                if proc is not None:
                    stop(proc)
        print(f"\n4. every event: {audit['events']:,} in the outbox; lost {audit['lost']}, out of order per subject "
              f"{audit['out_of_order']}, sent twice {audit['twice']} (same id, after the outage), bad signatures "
              f"{audit['bad_signatures']}")
        checks = [(f"delivered >= {TARGET_EVENTS_PER_S:,} events/s", rate >= TARGET_EVENTS_PER_S, f"{rate:,.0f}/s"),
                  (f"drained <= {TARGET_DRAIN_S} s after the outage", drain <= TARGET_DRAIN_S, f"{drain:.1f} s"),
                  ("0 lost", audit["lost"] == 0, audit["lost"]),
                  ("0 out of order per subject", audit["out_of_order"] == 0, audit["out_of_order"]),
                  ("0 bad signatures", audit["bad_signatures"] == 0, audit["bad_signatures"]),
                  (f"intake with delivery running >= {TARGET_RATIO} x stopped", ratio >= TARGET_RATIO,
                   f"{ratio:.2f}")]
        print()
        for name, ok, value in checks:
            print(f"{'PASS' if ok else 'FAIL'}  {name}: {value}")
        return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    if len(sys.argv) != 11:
        sys.exit(__doc__)
    url, port, work, *numbers = sys.argv[1:]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(Bench(url, int(port), work, *(int(n) for n in numbers)).run())
