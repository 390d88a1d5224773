"""Slow clients under gunicorn: a body sent a byte at a time holds one thread, and only
until REQUEST_BODY_TIMEOUT (then 408, the connection closed), while everyone else is
served. (How many slow clients it takes, and what the others wait: benchmarks/
bench_slow_clients.py.)"""

import socket
import threading
import time

import pytest
import requests

from tests.servers import gunicorn_config, serving

DEADLINE = 1.5


def test_make_run_and_the_procfile_run_threaded_workers():
    config = gunicorn_config()
    assert config["worker_class"] == "gthread"
    assert int(config["threads"]) >= 16


@pytest.fixture
def portal(tmp_path):
    """gunicorn with one worker of four threads, and a short body deadline."""
    env = {"GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "4", "GUNICORN_ACCESS_LOG": "off",
           "REQUEST_BODY_TIMEOUT": str(DEADLINE)}  # fmt: skip
    with serving(tmp_path / "gunicorn.log", **env) as (port, base):
        yield port, base


class Trickle(threading.Thread):
    """A callback whose body comes a byte every `pause` seconds; keeps what it was told."""

    def __init__(self, port, pause=0.25):
        super().__init__(daemon=True)
        self.port, self.pause = port, pause
        self.answer, self.seconds = b"", None
        self.sending = threading.Event()  # its headers are sent: it holds a thread

    def run(self):
        body = b'{"status": "PARSE", "videoNo": "VI1"}'
        head = (
            f"POST /callbacks/memories/{'t' * 43}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(head.encode())
            self.sending.set()
            try:
                for byte in body:
                    sock.sendall(bytes([byte]))
                    time.sleep(self.pause)  # the slow client's own pace, not a wait
            except OSError:
                pass  # the server stopped listening to it
            while chunk := sock.recv(4096):
                self.answer += chunk
        self.seconds = time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_a_body_that_misses_the_deadline_is_408_and_frees_its_thread(portal):
    port, base = portal
    slow = [Trickle(port) for _ in range(4)]  # as many as the worker has threads
    for client in slow:
        client.start()
    assert all(client.sending.wait(10) for client in slow)
    waited = []
    for _ in range(3):
        started = time.monotonic()
        assert requests.get(base + "/healthz", timeout=10).status_code in (200, 503)
        waited.append(time.monotonic() - started)
    for client in slow:
        client.join(timeout=30)
    for client in slow:
        assert client.answer.startswith(b"HTTP/1.1 408"), client.answer[:200]
        assert client.seconds < DEADLINE + 2
    # While every thread was taken by a slow body, the others waited at most the deadline.
    assert max(waited) < DEADLINE + 1.5
