"""The sandbox as a server: start and stop, the routing of API requests to the account
whose key they carry, and the HTTP plumbing."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .listing import ListingEndpoints
from .upload import UploadEndpoint
from .wire import API_PREFIX, ApiError, Reply, Request

# path below API_PREFIX -> (method, Sandbox method answering it)
ROUTES = {
    "upload_url": ("POST", "_upload_url"),
    "list_videos": ("POST", "_list_videos"),
    "get_metadata": ("GET", "_get_metadata"),
    "list_unique_ids": ("GET", "_list_unique_ids"),
}


class Sandbox(UploadEndpoint, ListingEndpoints):
    """memories.ai at one address; other accounts join it with `add_account`."""

    # ---- lifecycle -------------------------------------------------------

    def start(self) -> Sandbox:
        self._server = _Server((self.host, self.port), _Handler)
        self._server.sandbox = self
        self.port = self._server.server_address[1]
        # A short poll interval makes stop() quick, which test suites notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"sandbox:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        for account in self.accounts:
            account.stop()
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._front is not None:
            return self._front.url
        return f"http://{self.host}:{self.port}"

    # ---- the API -----------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/_sandbox/"):
            return self._control(request)
        other = self._accounts.get(request.headers.get("authorization"))
        if other is not None:
            return other.handle(request)
        name = request.path.removeprefix(API_PREFIX)
        route = ROUTES.get(name) if request.path.startswith(API_PREFIX) else None
        if route == ("POST", "_upload_url") and request.method == "POST":
            return self._upload_url(request)  # it records every answer, refusals too
        if route == ("POST", "_list_videos"):
            self._note_list_request()
        try:
            self._check_auth(request)  # before anything else, as the real API does
            if route is None:
                return self._envelope(ApiError("0404", f"no such path: {request.path}"), 404)
            method, endpoint = route
            if request.method != method:
                return self._envelope(ApiError("0405", f"use {method}"), 405)
            reply = self._envelope_ok(getattr(self, endpoint)(request))
        except ApiError as error:
            return self._envelope(error)
        if endpoint == "_list_videos":
            reply.delay = self.slow_list  # the switch: a list that hangs on this account only
        return reply


# ---- HTTP plumbing -----------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: Sandbox

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up on kept-alive connections: a stopped sandbox answers nothing."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the client may have closed it already
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request, client_address) -> None:
        # A client that hung up (timeouts, dropped sockets) is normal here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "memories-sandbox"
    sys_version = ""
    timeout = 60  # idle keep-alive connections do not live forever
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=parts.path,
            query=urllib.parse.parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        reply = self.server.sandbox.handle(request)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            if self.close_connection:  # the client asked for "Connection: close"
                self.send_header("Connection", "close")
            self.end_headers()
            if reply.trickle:
                for byte in reply.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(reply.trickle)
            else:
                self.wfile.write(reply.body)
        except ConnectionError:
            self.close_connection = True  # the client gave up (e.g. a read timeout)

    def log_message(self, format, *args) -> None:
        pass  # quiet: tests and the demo do not want a line per request
