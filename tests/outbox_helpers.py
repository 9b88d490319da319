"""A real HTTP receiver on 127.0.0.1 for the outbox tests: a WSGI app served by werkzeug in a thread, whose
behaviour a test switches (acknowledge, 500, 410, hang past the timeout, drop the connection, go down, answer
slowly), and which can tell which local process sent a request (through /proc)."""
import hashlib
import hmac
import json
import os
import socket
import threading
import time

from werkzeug.serving import make_server

from jobs import JOBS
from tests.rect_helpers import fresh

PORTS = iter(range(8500, 8600))


def verify(secret: str, header: str, body: bytes) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - int(parts["t"])) < 300


class Receiver:
    """Records every request; `behaviour` decides the answer: 'ok', an int status, 'hang', 'drop'. Each request is
    answered after `delay` seconds; `hook(entry, n)` is called with the n-th request before it is answered.
    `senders`: pids of local processes, one of which each request's entry names as its "sender".
    `most_in_flight`: the most requests it was answering at once."""

    def __init__(self, senders: tuple[int, ...] = ()):
        self.behaviour = "ok"
        self.delay = 0.0
        self.hook = None
        self.senders = senders
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.server = None
        self.port = None
        self._start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _start(self, port: int | None = None):
        for candidate in ([port] if port else PORTS):
            try:
                self.server = make_server("127.0.0.1", candidate, self._app, threaded=True)
                self.port = candidate
                break
            except OSError:
                if port:
                    raise
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def down(self):
        self.server.shutdown()
        self.server.server_close()

    def up(self):
        self._start(self.port)

    def close(self):
        self.down()

    def _app(self, environ, start_response):
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return self._answer(environ, start_response)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _answer(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        behaviour = self.behaviour
        entry = {"headers": {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")},
                 "body": body, "json": json.loads(body), "behaviour": behaviour, "at": time.time(),
                 "sender": sender_of(int(environ["REMOTE_PORT"]), self.port, self.senders) if self.senders else None}
        with self.lock:
            self.requests.append(entry)
            n = len(self.requests)
        if self.hook is not None:
            self.hook(entry, n)
        if self.delay:
            time.sleep(self.delay)
        if behaviour == "hang":
            # Answers after the sender's timeout: the sender never sees it, so it is not an acknowledgement
            # (the receiver will see this event again, as a retry with the same id).
            time.sleep(3)
            entry["status"] = "too late"
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"late"]
        if behaviour == "drop":
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            return []
        status = 200 if behaviour == "ok" else int(behaviour)
        entry["status"] = status
        start_response(f"{status} X", [("Content-Type", "text/plain")])
        return [b"ok"]

    def acknowledged(self) -> list[dict]:
        with self.lock:
            return [r for r in self.requests if isinstance(r.get("status"), int) and 200 <= r["status"] < 300]

    def acknowledged_ids(self) -> list[str]:
        return [r["headers"]["X-Feedback-Delivery"] for r in self.acknowledged()]


def sender_of(client_port: int, server_port: int, pids) -> int | None:
    """Which of `pids` holds the client end of the TCP connection client_port → server_port on 127.0.0.1: the
    socket's inode from /proc/net/tcp, then the process with that socket among its open files."""
    inode = None
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, remote, inode_field = fields[1], fields[2], fields[9]
            if int(local.split(":")[1], 16) == client_port and int(remote.split(":")[1], 16) == server_port:
                inode = inode_field
    if inode is None:
        return None
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


FAST = {"DELIVERY_BACKOFF_BASE_SECONDS": 0.2, "DELIVERY_BACKOFF_MAX_SECONDS": 0.5, "DELIVERY_TIMEOUT_SECONDS": 1,
        "DELIVERY_RUN_SECONDS": 3, "DELIVERY_MAX_ATTEMPTS": 12}


def deliver():
    result = JOBS["deliver_events"](holder="test")
    assert result.status == "ok", result.error
    fresh()
    return result


def deliver_until(condition, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        deliver()
        if condition():
            return
        assert time.monotonic() < deadline, "deliveries did not arrive in time"
        time.sleep(0.1)
