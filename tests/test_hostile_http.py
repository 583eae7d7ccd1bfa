"""The HTTP connector's limits against real servers on 127.0.0.1 that misbehave on purpose: a body over the cap is
refused while it is read, and a server that trickles its headers or its body a byte at a time cannot hold a fetch
past the whole-request deadline."""

import socket
import threading
import time

import pytest

from pipelines.defs.ingestion.http import FetchError, HttpSource, fetch


class Trickler:
    """A raw TCP server answering every connection with `head` then `body` (None: zeros for ever), `pace` seconds
    between the chunks it sends (`chunk` bytes each), until the client hangs up or `stop` is set."""

    def __init__(self, head: bytes, body: bytes | None, chunk: int, pace: float):
        self.head, self.body, self.chunk, self.pace = head, body, chunk, pace
        self.stop, self.sent = threading.Event(), 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/returns/{{month}}.json"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection):
        with connection:
            connection.recv(65536)
            stream, position = self.head + (self.body or b""), 0
            try:
                while not self.stop.is_set() and (position < len(stream) or self.body is None):
                    piece = stream[position:position + self.chunk] or b"0" * self.chunk
                    connection.sendall(piece)
                    self.sent += len(piece)
                    position += len(piece)
                    time.sleep(self.pace)
            except OSError:
                return

    def close(self):
        self.stop.set()
        self.listener.close()


@pytest.fixture
def trickler(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    started = []

    def start(*args) -> Trickler:
        started.append(Trickler(*args))
        return started[-1]
    yield start
    for server in started:
        server.close()


def failure(url: str, **options) -> FetchError:
    source = HttpSource(agency_id="AG1", url=url, format="json", credential_env=None, retries=0,
                        backoff_seconds=0.01, **options)
    with pytest.raises(FetchError) as caught:
        fetch(source, "2025-06")
    return caught.value


def test_a_body_over_the_cap_is_refused_while_it_is_read(trickler):
    endless = trickler(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n[", None, 65536, 0)
    error = failure(endless.url, max_body_bytes=1 << 20)
    assert error.rule == "http_body_too_large"
    assert "the body is over 1,048,576 bytes" in str(error)
    assert endless.sent < 64 << 20  # stopped reading long before a 400 MB body was in memory


def test_a_declared_body_over_the_cap_is_refused_before_it_is_read(trickler):
    declared = trickler(b"HTTP/1.1 200 OK\r\nContent-Length: 400000000\r\n\r\n", b"[", 1, 0.01)
    error = failure(declared.url, max_body_bytes=1 << 20)
    assert error.rule == "http_body_too_large" and "(400,000,000 so far" in str(error)


@pytest.mark.parametrize("head, body", [
    (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", b"[" + b" " * 99_999),
    (b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000, b"\r\n\r\n[]"),  # headers at 20 bytes a second
])
def test_a_server_trickling_a_byte_at_a_time_cannot_hold_a_fetch_past_the_deadline(trickler, head, body):
    slow = trickler(head if body else head, body if body else None, 1, 0.05)
    error = failure(slow.url, timeout_seconds=5, deadline_seconds=1.0)
    assert error.rule == "http_timeout"
    assert "did not finish within 1.0 s, retries included (limits.yaml http.deadline_seconds)" in str(error)
