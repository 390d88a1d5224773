"""A wall-clock deadline for a whole HTTP exchange, for requests and urllib3.

Per-read socket timeouts do not bound a server that sends one byte just before
each timeout: a trickling answer outlives any read timeout. A `Deadline`'s
watchdog thread shuts down every socket opened under it when the time is up,
so whatever call is blocked on one returns at once. Plain Python: used by the
memories.ai client and by the URL checker.

    with Deadline(30) as deadline:          # sockets opened in here are watched
        session.get(url)                    # through a DeadlineAdapter
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class DeadlineExceeded(TimeoutError):
    pass


class Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._token: contextvars.Token[Deadline | None] | None = None

    def __enter__(self) -> Deadline:
        self._token = _current.set(self)
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        if self._token is not None:
            _current.reset(self._token)

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            fired = self.fired
        if fired:
            _shutdown(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def remaining(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0 or self.fired:
            raise self.expired()
        return left

    def expired(self) -> Exception:
        return DeadlineExceeded(f"Took longer than {self.seconds:g} seconds.")


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


# Connections register their sockets with the deadline in force in this thread;
# urllib3 creates connections deep inside a request, out of our reach.
_current: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "http_deadline", default=None
)


class _WatchedSocket:
    """Hands each new socket to the deadline in force."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        deadline = _current.get()
        if deadline is not None:
            deadline.watch(sock)
        return sock


class _WatchedHTTPConnection(_WatchedSocket, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedSocket, HTTPSConnection):
    pass


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An adapter whose connections are watched by the deadline in force."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPConnectionPool,
            "https": _WatchedHTTPSConnectionPool,
        }
