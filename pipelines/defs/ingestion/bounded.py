"""Bounded HTTP reads for the connector: a whole-request deadline that holds even against a server trickling its
headers or body a byte at a time (the socket is shut when the deadline passes), and a cap on the body's size read
in chunks (config/limits.yaml, section http)."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.request
from contextlib import contextmanager

CHUNK = 1 << 16
_watch = threading.local()  # the deadline of the request this thread is making, read when a connection opens


class BodyTooLarge(Exception):
    pass


class DeadlinePassed(Exception):
    pass


@contextmanager
def deadline(at: float):
    """Every connection opened inside is shut at monotonic time `at`; afterwards the timers are cancelled."""
    _watch.at, _watch.timers = at, []
    try:
        yield
    finally:
        for timer in _watch.timers:
            timer.cancel()
        _watch.at, _watch.timers = None, []


def read_body(response, max_bytes: int, at: float) -> bytes:
    """The body, read in chunks as they arrive; BodyTooLarge past max_bytes, DeadlinePassed past `at`."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(int(declared))
    chunks, size = [], 0
    while chunk := response.read1(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(size)
        if time.monotonic() > at:
            raise DeadlinePassed()
        chunks.append(chunk)
    if time.monotonic() > at:  # the socket was shut at the deadline: what was read is not the whole body
        raise DeadlinePassed()
    return b"".join(chunks)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: the request ended first


class _Watched:
    def connect(self):
        super().connect()
        at = getattr(_watch, "at", None)
        if at is not None:
            timer = threading.Timer(max(at - time.monotonic(), 0), _shut, [self.sock])
            timer.daemon = True
            timer.start()
            _watch.timers.append(timer)


class _HTTPConnection(_Watched, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, http.client.HTTPSConnection):
    pass


class WatchedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req)


class WatchedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req, context=self._context)
