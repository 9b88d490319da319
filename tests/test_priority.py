"""Background work yields the CPU to the citizens: `flask jobs serve` and its delivery threads run at a lower CPU
priority, in the kernel's terms (/proc), including the session's autogroup when the scheduler leads its own
session, as it does under systemd or in a container (a nice value alone only weighs within one session)."""
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from service import priority

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="CPU priorities are Linux's here")


def nice_of(pid: int, tid: int | None = None) -> int:
    stat = Path(f"/proc/{pid}/task/{tid or pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])  # field 19, counted after the command's name


def autogroup_nice(pid: int) -> int | None:
    """The nice value of `pid`'s autogroup; None where the kernel has no autogroups or shows none for it (the file
    is empty for a process in a cgroup of its own, as in many containers)."""
    path = Path(f"/proc/{pid}/autogroup")
    shown = path.read_text() if path.exists() else ""
    return int(shown.rsplit("nice", 1)[1]) if "nice" in shown else None


@pytest.mark.slow
@pytest.mark.parametrize("own_session", [True, False])
def test_the_scheduler_runs_at_jobs_nice_and_its_own_session_too(migrated, own_session):
    env = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": migrated, "LOG_LEVEL": "WARNING", "JOBS_NICE": "7"}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "jobs", "serve", "--interval", "1", "--exit-after", "4"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=own_session)
    try:
        deadline = time.monotonic() + 30
        while len(os.listdir(f"/proc/{proc.pid}/task")) < 3:  # the scheduler's threads have started
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
            time.sleep(0.05)
        threads = [int(t) for t in os.listdir(f"/proc/{proc.pid}/task")]
        assert {nice_of(proc.pid, t) for t in threads} == {7}
        if own_session:  # its own autogroup, where the kernel keeps autogroups and shows this one
            assert autogroup_nice(proc.pid) in (7, None)
        else:
            assert autogroup_nice(proc.pid) == autogroup_nice(os.getpid())  # the session it shares is left alone
    finally:
        out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, out


def test_a_thread_is_lowered_and_never_raised_back():
    seen = []

    def work(nice):
        priority.lower_thread(nice)
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        priority.lower_thread(nice - 3)  # a lower value than it has: kept as it is
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    base = os.getpriority(os.PRIO_PROCESS, 0)
    thread = threading.Thread(target=work, args=(base + 5,))
    thread.start()
    thread.join()
    assert seen == [base + 5, base + 5]
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # the calling thread is untouched
