"""A real HTTP receiver on 127.0.0.1 for the outbox tests: a WSGI app served by werkzeug in a thread, whose
behaviour a test switches (acknowledge, 500, 410, hang past the timeout, drop the connection, go down)."""
import hashlib
import hmac
import json
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
    """Records every request; `behaviour` decides the answer: 'ok', an int status, 'hang', 'drop'."""

    def __init__(self):
        self.behaviour = "ok"
        self.requests: list[dict] = []
        self.lock = threading.Lock()
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
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        behaviour = self.behaviour
        entry = {"headers": {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")},
                 "body": body, "json": json.loads(body), "behaviour": behaviour}
        with self.lock:
            self.requests.append(entry)
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
