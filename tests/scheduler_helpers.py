"""A real `flask jobs serve` for the tests that stop, kill or pause it mid-work, and a wait for what it does."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def start_scheduler(database_url: str, *, interval: int, lease_seconds: int, env: dict | None = None,
                    log: Path | None = None) -> subprocess.Popen:
    """`flask jobs serve` in a session of its own (a test signals the whole group), its heartbeat every second, its
    output to `log` (appended; at LOG_LEVEL INFO) or nowhere (WARNING). At the test's priority (JOBS_NICE 0): at the
    default 19 (an autogroup's weight 15 against 1,024) a busy CI machine can hold a heartbeat past these short
    leases (a deployment's are 90 s)."""
    env = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": database_url,
           "LOG_LEVEL": "WARNING" if log is None else "INFO", "JOBS_NICE": "0", **(env or {})}
    cmd = [sys.executable, "-m", "flask", "jobs", "serve", "--interval", str(interval), "--lease-seconds",
           str(lease_seconds), "--heartbeat-seconds", "1"]
    if log is None:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    with log.open("ab") as out:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=out,
                                start_new_session=True)


def wait_for(condition, timeout: float, what: str, poll: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(poll)
