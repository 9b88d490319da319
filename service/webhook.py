"""One signed POST to a receiver: the signature, the headers, and a keep-alive HTTP/1.1 connection that tells a
receiver that answered badly from one that could not be reached at all."""
import hashlib
import hmac
import re
import select
import socket
import ssl
import time
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
    """One keep-alive HTTP/1.1 connection to a receiver, for a subscription's turn. HTTPS verifies the certificate
    against the system's CAs; redirects are not followed; no proxy is taken from the environment.

    The request goes out in one send on a TCP_NODELAY socket and the answer is read from a buffer kept for the
    connection: http.client (and h11) spent about four times the CPU per event here (two sends per request, a
    new reader and an email-header parser per answer), which on a busy machine came out of the citizens' share.
    The answer is read by HTTP/1.1's rules: informational 1xx answers skipped, a body by Content-Length, chunked or
    up to the close, `Connection: close` and HTTP/1.0 honoured; at most MAX_ANSWER_BYTES of it are read."""

    def __init__(self, url: str, timeout: float):
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port or (443 if self.https else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = self.host if parts.port is None else f"{self.host}:{self.port}"
        self.head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\n".encode("ascii")
        self.timeout, self.connect_timeout = timeout, min(timeout, CONNECT_TIMEOUT_SECONDS)
        self.sock = self.reader = None

    def _connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.https:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
            sock.settimeout(self.timeout)
        except BaseException:
            sock.close()
            raise
        self.sock, self.reader = sock, sock.makefile("rb")

    def post(self, header_fields: dict, body: bytes) -> Answer:
        """The receiver's answer; never raises for the receiver's faults."""
        if self.sock is not None and select.select([self.sock], [], [], 0)[0]:
            self.close()  # the receiver closed the idle connection (or sent something unasked): start afresh
        if self.sock is None:
            try:
                self._connect()
            except TimeoutError:
                self.close()
                return Answer(None, f"连接超时（{self.connect_timeout} 秒）", reached=False)
            except OSError as exc:
                self.close()
                return Answer(None, f"无法连接：{type(exc).__name__}", reached=False)
        fields = "".join(f"{name}: {value}\r\n" for name, value in header_fields.items())
        try:
            self.sock.sendall(b"".join((self.head, f"Content-Length: {len(body)}\r\n{fields}\r\n".encode(), body)))
            code, keep = self._answer()
        except TimeoutError:
            self.close()
            return Answer(None, f"超时（{self.timeout} 秒）")
        except (OSError, ValueError) as exc:
            self.close()
            return Answer(None, f"连接失败：{type(exc).__name__}")
        if not keep:
            self.close()
        return Answer(code, "" if 200 <= code < 300 else f"HTTP {code}")

    def _answer(self) -> tuple[int, bool]:
        """(status code, whether the connection stays open) of the answer, its body read and dropped."""
        while True:
            status = self._line()  # (ConnectionResetError when closed before answering)
            if (matched := _STATUS.fullmatch(status)) is None:
                raise ValueError("应答状态行格式错误")
            version, code = matched[1], int(matched[2])
            headers = {}
            while line := self._line():
                name, sep, value = line.partition(b":")
                if not sep:
                    raise ValueError("应答头格式错误")
                headers[name.strip().lower()] = value.strip().lower()
                if len(headers) > _MAX_HEADERS:
                    raise ValueError("应答头过多")
            if not 100 <= code < 200:
                break
        connection = headers.get(b"connection", b"")
        keep = b"close" not in connection and (version == b"1.1" or b"keep-alive" in connection)
        if code in (204, 304):
            return code, keep
        if b"chunked" in headers.get(b"transfer-encoding", b""):
            left = MAX_ANSWER_BYTES
            while (size := int(self._line().split(b";", 1)[0], 16)) > 0:
                left -= size
                if left < 0:
                    return code, False  # too long: the rest is not read, the connection ends
                self._exactly(size + 2)
            while self._line():
                pass  # trailers
        elif (length := headers.get(b"content-length")) is not None:
            if int(length) > MAX_ANSWER_BYTES:
                return code, False
            self._exactly(int(length))
        else:
            self.reader.read(MAX_ANSWER_BYTES)  # up to the close
            keep = False
        return code, keep

    def _line(self) -> bytes:
        line = self.reader.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise ValueError("应答行过长")
        if not line.endswith(b"\n"):
            raise ConnectionResetError("应答不完整")  # closed in the middle of a line, or before it
        return line.rstrip(b"\r\n")

    def _exactly(self, size: int) -> None:
        if len(self.reader.read(size)) < size:
            raise ConnectionResetError("应答不完整")

    def close(self) -> None:
        for part in (self.reader, self.sock):
            if part is not None:
                part.close()
        self.sock = self.reader = None


_STATUS = re.compile(rb"HTTP/(1\.[01]) ([1-5][0-9][0-9])(?: .*)?")
_MAX_LINE, _MAX_HEADERS = 64 * 1024, 100
