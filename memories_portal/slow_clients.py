"""A deadline on reading a request's body, so that a client sending it slowly holds a
gunicorn thread for REQUEST_BODY_TIMEOUT seconds at most, never for as long as it likes.

gunicorn reads a body in the thread that serves the request, as the application asks for
it, and a socket's own timeout is per recv(): a byte a second never trips it. So a timer
watches each request that has a body; at the deadline it shuts the connection's reading
side, which ends any read at once, and the request is answered 408, the connection
closed. A proxy in front that buffers bodies (docs/deploying.md) means gunicorn never
sees a slow body at all; this is for when it does.
"""

import contextlib
import socket
import threading

from django.core.exceptions import BadRequest

TIMED_OUT = b"The request's body did not arrive in time.\n"


class BodyTooSlow(BadRequest):
    """The body did not arrive before the deadline. (A BadRequest: Django answers 400
    wherever a read raises it, and BodyDeadline makes that answer 408.)"""


class DeadlineInput:
    """The body's stream (`wsgi.input`), cut off by `expire()` once its deadline passes.
    `length`: the declared Content-Length, or None for a chunked body."""

    def __init__(self, stream, sock, length):
        self.stream, self.sock, self.left = stream, sock, length
        self.lock = threading.Lock()
        self.finished = self.timed_out = False
        self.timer = None

    def expire(self):
        """At the deadline (in the timer's thread): no more of the body is read."""
        with self.lock:
            if self.finished:
                return
            self.timed_out = True
        # Wakes a recv() blocked in the request's thread (it returns as at the body's end),
        # and gunicorn finds nothing left to drain: it closes the connection.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RD)

    def _read(self, read, size, *, short_is_end):
        data = read() if size is None else read(size)
        # A body cut short at the deadline is never handed on as if it were whole.
        if self.timed_out:
            raise BodyTooSlow(TIMED_OUT.decode().strip())
        if self.left is not None:
            self.left -= len(data)
        # gunicorn's read(n) returns fewer than n bytes only at the body's end.
        short = short_is_end and (size is None or len(data) < size)
        if not data or short or (self.left is not None and self.left <= 0):
            self._finish()  # what is left to do is no longer at the client's pace
        return data

    def _finish(self):
        with self.lock:
            self.finished = True
        if self.timer:
            self.timer.cancel()

    def read(self, size=None):
        return self._read(self.stream.read, _size(size), short_is_end=True)

    def readline(self, size=None):
        return self._read(self.stream.readline, _size(size), short_is_end=False)

    def __iter__(self):
        while line := self.readline():
            yield line


class BodyDeadline:
    """WSGI middleware: under gunicorn (which gives the connection's socket), a request with
    a body must have sent it within `seconds`; one that has not is answered 408."""

    def __init__(self, app, seconds):
        self.app, self.seconds = app, seconds

    def __call__(self, environ, start_response):
        sock = environ.get("gunicorn.socket")
        length = _declared_length(environ)
        if sock is None or not self.seconds or length == 0:
            return self.app(environ, start_response)
        body = DeadlineInput(environ["wsgi.input"], sock, length)
        environ["wsgi.input"] = body
        body.timer = threading.Timer(self.seconds, body.expire)
        body.timer.daemon = True
        body.timer.start()

        def answer(status, headers, exc_info=None):
            if body.timed_out:
                status = "408 Request Timeout"
                headers = [("Content-Type", "text/plain; charset=utf-8"),
                           ("Content-Length", str(len(TIMED_OUT)))]  # fmt: skip
            return start_response(status, headers, exc_info)

        try:
            result = self.app(environ, answer)
        finally:
            body.timer.cancel()
        if not body.timed_out:
            return result
        if hasattr(result, "close"):
            result.close()
        return [TIMED_OUT]


def _declared_length(environ):
    """The body's declared length; None for a chunked body (of unknown length)."""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    try:
        return max(int(environ.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _size(size):
    return None if size is None or size < 0 else size
