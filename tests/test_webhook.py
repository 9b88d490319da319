"""service/webhook.Connection reads a receiver's answer by HTTP/1.1's rules, over a real socket: a server on
127.0.0.1 that reads each request whole and answers with the exact bytes a test gives it."""
import socket
import threading

import pytest

from service import webhook


class RawServer:
    """Answers the n-th request on a connection with answers[n] (bytes), then closes the connection if the
    answer's entry says so; records every request's bytes and how many connections were opened."""

    def __init__(self, answers: list[tuple[bytes, bool]]):
        self.answers, self.requests, self.connections = list(answers), [], 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook?x=1"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while self.answers:
            conn, _ = self.listener.accept()
            self.connections += 1
            with conn:
                buffer = b""
                while self.answers:
                    while b"\r\n\r\n" not in buffer:
                        try:
                            chunk = conn.recv(65536)
                        except ConnectionResetError:  # the client dropped an answer it would not read
                            chunk = b""
                        if not chunk:
                            break
                        buffer += chunk
                    if b"\r\n\r\n" not in buffer:
                        break
                    head, buffer = buffer.split(b"\r\n\r\n", 1)
                    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                      if line.lower().startswith(b"content-length")))
                    while len(buffer) < length:
                        buffer += conn.recv(65536)
                    self.requests.append(head + b"\r\n\r\n" + buffer[:length])
                    buffer = buffer[length:]
                    answer, close = self.answers.pop(0)
                    conn.sendall(answer)
                    if close:
                        break

    def close(self):
        self.listener.close()


def post(connection: webhook.Connection) -> webhook.Answer:
    return connection.post({"Content-Type": "application/json; charset=utf-8", "X-Feedback-Delivery": "7"}, b'{"a":1}')


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n3\r\n!!!\r\n0\r\nX-Trailer: 1\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 200\r\ncontent-length: 0\r\n\r\n",  # no reason phrase, lower-case name
])
def test_an_answer_is_read_whole_and_the_connection_kept(answer):
    server = RawServer([(answer, False), (b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", False)])
    connection = webhook.Connection(server.url, 2)
    try:
        first, second = post(connection), post(connection)
        assert first.ok and second == webhook.Answer(201, "")
        assert server.connections == 1  # the second request went on the same connection
        request = server.requests[0]
        assert request.startswith(b"POST /hook?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
        assert b"\r\nContent-Length: 7\r\n" in request and request.endswith(b'\r\n\r\n{"a":1}')
        assert b"\r\nX-Feedback-Delivery: 7\r\n" in request
    finally:
        connection.close()
        server.close()


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.0 200 OK\r\n\r\nbody up to the close",
])
def test_an_answer_that_ends_the_connection_is_followed_by_a_new_one(answer):
    server = RawServer([(answer, True), (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", False)])
    connection = webhook.Connection(server.url, 2)
    try:
        assert post(connection).ok and post(connection).ok
        assert server.connections == 2
    finally:
        connection.close()
        server.close()


@pytest.mark.parametrize(("answer", "expected"), [
    (b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\n\r\nbad", webhook.Answer(500, "HTTP 500")),
    (b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n", webhook.Answer(410, "HTTP 410")),
    (b"", webhook.Answer(None, "连接失败：ConnectionResetError")),  # closed without answering
    (b"SMTP ready\r\n\r\n", webhook.Answer(None, "连接失败：ValueError")),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", webhook.Answer(None, "连接失败：ValueError")),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", webhook.Answer(None, "连接失败：ConnectionResetError")),
    # closed before the answer's head ended: not an acknowledgement
    (b"HTTP/1.1 200 OK\r\n", webhook.Answer(None, "连接失败：ConnectionResetError")),
    (b"HTTP/1.1 200 OK\r\nContent-Ty", webhook.Answer(None, "连接失败：ConnectionResetError")),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", webhook.Answer(None, "连接失败：ConnectionResetError")),
])
def test_a_bad_or_broken_answer_is_told_apart(answer, expected):
    server = RawServer([(answer, True)])
    connection = webhook.Connection(server.url, 2)
    try:
        assert post(connection) == expected
    finally:
        connection.close()
        server.close()


def test_an_answer_longer_than_the_cap_is_not_read_and_the_connection_ends():
    big = webhook.MAX_ANSWER_BYTES + 1
    server = RawServer([(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % big + b"x" * big, False),
                        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", False)])
    connection = webhook.Connection(server.url, 2)
    try:
        assert post(connection).ok and connection.sock is None
        assert post(connection).ok and server.connections == 2
    finally:
        connection.close()
        server.close()


def test_no_answer_in_time_and_no_one_listening():
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel's backlog) but never answers
    connection = webhook.Connection(f"http://127.0.0.1:{listener.getsockname()[1]}/", 0.3)
    assert post(connection) == webhook.Answer(None, "超时（0.3 秒）")
    port = listener.getsockname()[1]
    listener.close()
    refused = post(webhook.Connection(f"http://127.0.0.1:{port}/", 0.3))
    assert refused.code is None and not refused.reached and refused.error.startswith("无法连接")
