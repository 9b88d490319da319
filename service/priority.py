"""Background work yields the CPU to the citizens: lower the CPU priority of the scheduler's process or of one thread
(Linux; elsewhere nothing happens)."""
import logging
import os
import sys
import threading

log = logging.getLogger(__name__)
_LINUX = sys.platform.startswith("linux")


def _raise_nice(who: int, nice: int) -> None:
    """Nice `who` (a thread id; 0 for this thread) to `nice`, never back down from a higher value set outside
    (systemd's Nice=, a `nice` in front of the command)."""
    if nice > 0 and _LINUX and os.getpriority(os.PRIO_PROCESS, who) < nice:
        os.setpriority(os.PRIO_PROCESS, who, nice)


def lower_thread(nice: int) -> None:
    """This thread at nice `nice` (on Linux a nice value belongs to a thread)."""
    try:
        _raise_nice(threading.get_native_id(), nice)
    except OSError:
        log.warning("could not lower this thread's CPU priority", exc_info=True)


def lower_process(nice: int) -> None:
    """The whole process at nice `nice`: this thread, and so every thread it starts afterwards; call it first.

    A nice value only weighs against the other processes of its session: with autogroups (the default of most
    Linux distributions) the kernel shares the CPU between sessions first, and each process that systemd, a
    container or a supervisor starts with setsid is a session of its own; gunicorn's workers are another. So a
    process that leads its own session also sets its session's nice (/proc/self/autogroup); one started from a
    shell (a session it shares) leaves the shell's alone. Where the kernel shows no autogroup for the process (it
    sits in a cgroup of its own, as in many containers), the cgroup shares the CPU and only the nice value is set."""
    if nice <= 0 or not _LINUX:
        return
    try:
        _raise_nice(0, nice)
        if os.getsid(0) == os.getpid() and os.path.exists("/proc/self/autogroup"):
            with open("/proc/self/autogroup", "r+") as autogroup:
                shown = autogroup.read()  # "/autogroup-85 nice 0"; empty when a cgroup, not an autogroup, holds it
                if "nice" in shown and int(shown.rsplit("nice", 1)[1]) < nice:
                    autogroup.write(str(nice))
    except (OSError, ValueError, IndexError):
        log.warning("could not lower the scheduler's CPU priority", exc_info=True)
