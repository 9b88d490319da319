"""One signed POST to a receiver: the signature, the headers, and a keep-alive HTTP/1.1 connection that tells a
receiver that answered badly from one that could not be reached at all."""
import hashlib
import hmac
import select
import time
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import NamedTuple
from urllib.parse import urlsplit

USER_AGENT = "hall-feedback-events/1"
MAX_ANSWER_BYTES = 64 * 1024  # read of a receiver's answer; a longer one ends the connection
CONNECT_TIMEOUT_SECONDS = 3


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def headers(event, body: bytes, secret: str) -> dict:
    return {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
            "X-Feedback-Event": event.type, "X-Feedback-Delivery": str(event.id),
            "X-Feedback-Signature": signature(secret, int(time.time()), body)}


class Answer(NamedTuple):
    code: int | None  # None: no answer (timeout, connection refused, closed or reset)
    error: str
    reached: bool = True  # False: not even connected (refused, no route, name or TLS failure, connect timeout)

    @property
    def ok(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


class Connection:
    """One keep-alive HTTP/1.1 connection to a receiver, for a subscription's turn (http.client: a few times
    cheaper per request than a requests Session). HTTPS verifies the certificate against the system's CAs;
    redirects are not followed; no proxy is taken from the environment."""

    def __init__(self, url: str, timeout: float):
        parts = urlsplit(url)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        https = parts.scheme == "https"
        self.timeout = timeout
        self.http = (HTTPSConnection if https else HTTPConnection)(
            parts.hostname, parts.port or (443 if https else 80), timeout=timeout)

    def post(self, header_fields: dict, body: bytes) -> Answer:
        """The receiver's answer; never raises for the receiver's faults."""
        http = self.http
        if http.sock is not None and select.select([http.sock], [], [], 0)[0]:
            http.close()  # the receiver closed the idle connection (or sent something unasked): start afresh
        if http.sock is None:
            try:
                http.timeout = min(self.timeout, CONNECT_TIMEOUT_SECONDS)
                http.connect()
                http.sock.settimeout(self.timeout)
            except TimeoutError:
                http.close()
                return Answer(None, f"连接超时（{http.timeout} 秒）", reached=False)
            except OSError as exc:
                http.close()
                return Answer(None, f"无法连接：{type(exc).__name__}", reached=False)
        try:
            http.request("POST", self.path, body=body, headers=header_fields)
            response = http.getresponse()
            response.read(MAX_ANSWER_BYTES)
            if not response.isclosed():
                http.close()
            code = response.status
            return Answer(code, "" if 200 <= code < 300 else f"HTTP {code}")
        except TimeoutError:
            http.close()
            return Answer(None, f"超时（{self.timeout} 秒）")
        except (OSError, HTTPException) as exc:
            http.close()
            return Answer(None, f"连接失败：{type(exc).__name__}")

    def close(self) -> None:
        self.http.close()
