"""`flask jobs serve`: one APScheduler process per deployment; a database lease keeps a second one idle.

Each job runs under the lease generation this process last took (service.jobruns.under_lease): if the process was
paused past its lease and another scheduler took over meanwhile, the job's work is fenced off (rolled back, the run
recorded as `fenced`) and this process stops running jobs until it holds the lease again."""
import logging
import os
import signal
import socket
import threading
import uuid
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from service import jobruns, priority, scheduling
from service.database import end_unit_of_work
from service.timeutil import SHANGHAI

from . import DAILY, JOBS, OWN_INTERVAL

log = logging.getLogger(__name__)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Scheduler:
    def __init__(self, app: Flask, *, interval: int, lease_seconds: int, heartbeat_seconds: int):
        self.app = app
        self.interval, self.lease_seconds, self.heartbeat_seconds = interval, lease_seconds, heartbeat_seconds
        self.holder = holder_name()
        self.leader = False
        self.generation: int | None = None  # the lease generation held: the fencing token the jobs run under
        # Jobs run one at a time (SQLite has one writer anyway); the lease has its own thread so a long job
        # never lets it expire.
        self.aps = BackgroundScheduler(
            timezone=SHANGHAI,
            executors={"default": ThreadPoolExecutor(1), "lease": ThreadPoolExecutor(1),
                       "own": ThreadPoolExecutor(max(1, len(OWN_INTERVAL)))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": max(interval, 30)})

    def tick(self) -> None:
        """Renew the lease (the heartbeat) or try to take it; on any doubt, stop running jobs."""
        with self.app.app_context():
            try:
                was = self.leader
                if was:
                    self.leader = scheduling.renew(self.holder, self.lease_seconds)
                if not self.leader:
                    previous = scheduling.current_holder()
                    self.generation = scheduling.acquire(self.holder, self.lease_seconds)
                    self.leader = self.generation is not None
                    if self.leader and previous not in (None, self.holder):
                        jobruns.mark_interrupted(previous)
                if self.leader != was:
                    log.info("scheduler %s %s the lease", self.holder, "holds" if self.leader else "lost")
            except Exception:  # noqa: BLE001 - a database hiccup: stand by until the next tick
                self.leader = False
                log.exception("scheduler lease check failed")
            finally:
                end_unit_of_work()

    def _job(self, name: str, fn):
        def run():
            generation = self.generation
            if not self.leader or generation is None:
                return
            with self.app.app_context():
                try:
                    with jobruns.under_lease(self.holder, generation):
                        outcome = fn(holder=self.holder)
                    if outcome.status == "fenced" and self.generation == generation:
                        # Another scheduler holds the lease now: stand by until the next tick says otherwise.
                        self.leader = False
                        log.warning("scheduler %s lost the lease (generation %s): jobs stop", self.holder, generation)
                finally:
                    end_unit_of_work()

        run.__name__ = name
        return run

    def start(self) -> None:
        self.tick()
        self.aps.add_job(self.tick, "interval", seconds=self.heartbeat_seconds, executor="lease", id="lease")
        first = datetime.now(SHANGHAI)
        for name, key in OWN_INTERVAL.items():
            self.aps.add_job(self._job(name, JOBS[name]), "interval", seconds=self.app.config[key], id=name,
                             name=name, executor="own", next_run_time=first)
        for i, (name, fn) in enumerate((n, f) for n, f in JOBS.items() if n not in OWN_INTERVAL):
            # Staggered by a millisecond so every tick runs them in the registry's order (new items before
            # deadlines, deadlines before closing lists).
            self.aps.add_job(self._job(name, fn), "interval", seconds=self.interval, id=name, name=name,
                             next_run_time=first + timedelta(milliseconds=i))
        for name, (fn, (hour, minute)) in DAILY.items():
            self.aps.add_job(self._job(name, fn), "cron", hour=hour, minute=minute, id=name, name=name)
        self.aps.start()
        log.info("scheduler %s started (%s)", self.holder, "leader" if self.leader else "standby")

    def stop(self) -> None:
        self.aps.shutdown(wait=True)
        if self.leader:
            with self.app.app_context():
                scheduling.release(self.holder)
                end_unit_of_work()


def serve(app: Flask, *, interval: int, lease_seconds: int, heartbeat_seconds: int,
          exit_after: float | None = None) -> None:
    """Run until SIGTERM/SIGINT (or exit_after seconds, for tests and one-shot runs), at nice JOBS_NICE: the jobs and
    the delivery wait when the citizens' requests need the CPU."""
    priority.lower_process(app.config["JOBS_NICE"])  # before any thread starts: they inherit it
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = Scheduler(app, interval=interval, lease_seconds=lease_seconds, heartbeat_seconds=heartbeat_seconds)
    scheduler.start()
    try:
        stop.wait(exit_after)
    finally:
        scheduler.stop()
