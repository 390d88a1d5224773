"""The people every access rule needs, the sandbox, and worker processes.

The tests are arranged by what they start:
- tests/fast/: the database, the test client, in-process servers (the sandbox,
  a video server, both threads of this process), and short `python -c` runs.
  `make test-fast` runs them alone.
- tests/live/: worker processes, run_periodic, gunicorn, live servers and the
  benchmarks' smoke runs: slower, and where races and stalls are tested.
- tests/browser/: chromium through Playwright, against a live server.
A test in tests/fast/ that asks for a live server or a worker process fails at
collection: it belongs in tests/live/.
"""

import ipaddress
import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from tests.factories import MembershipFactory, SubmissionFactory, TeamFactory, UserFactory, bearer
from tests.faults import Faults
from uploads.memories.sandbox import Sandbox
from uploads.models import (
    Batch,
    Event,
    Membership,
    Status,
    Submission,
    UploadGate,
    hash_token,
    new_callback_token,
)
from uploads.tasks import check_batch

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch):
    """No test may connect anywhere but this machine: any other address fails the test.

    (The machine's network is closed anyway; this makes a test that tries say so.)
    """
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = ipaddress.ip_address(address[0].split("%")[0])
            if not host.is_loopback and not (
                host.version == 6 and host.ipv4_mapped and host.ipv4_mapped.is_loopback
            ):
                raise AssertionError(f"a test tried to connect to {address[0]}")

    def connect(sock, address):
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        check(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


GIB = 1024**3


class VideoServer:
    """A local web server with the kinds of links people submit.

    Paths: /clip.mp4 (a 1 MB video), /page.html, /big.mp4 (2 GiB), /missing.mp4 (404),
    /ok.m3u8 and /relative.m3u8 (playlists), and /expiring.mp4, which answers
    404 once `expired` is set. A query string is ignored (one video, many URLs).
    """

    def __init__(self):
        self.expired = False
        # Seconds each answer waits (set by a test), and the most requests seen at once.
        self.delay = 0.0
        self.in_flight = self.most_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self):
                self.answer(head=True)

            def do_GET(self):
                self.answer(head=False)

            def answer(self, head):
                with server.counted():
                    self.respond(head)

            def respond(self, head):
                status, content_type, body, length = server.route(self.path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(length if length else len(body)))
                self.end_headers()
                if not head and not length:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @contextmanager
    def counted(self):
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)  # a slow server, not a test waiting
            yield
        finally:
            with self.lock:
                self.in_flight -= 1

    def route(self, path):
        base = self.url
        playlist = "application/vnd.apple.mpegurl"
        routes = {
            "/clip.mp4": (200, "video/mp4", b"", 1_000_000),
            "/big.mp4": (200, "video/mp4", b"", 2 * GIB),
            "/page.html": (200, "text/html; charset=utf-8", b"<html>Watch here</html>", 0),
            "/ok.m3u8": (200, playlist, _playlist(base, relative=False), 0),
            "/relative.m3u8": (200, playlist, _playlist(base, relative=True), 0),
            "/expiring.mp4": (404, "text/plain", b"gone", 0)
            if self.expired
            else (200, "video/mp4", b"", 1_000_000),
        }
        return routes.get(path.partition("?")[0], (404, "text/plain", b"not found", 0))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _playlist(base, relative):
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:6"]
    for n in range(3):
        lines += ["#EXT-X-BYTERANGE:1000@0", "#EXTINF:6.0,"]
        lines.append(f"seg{n}.ts" if relative and n == 2 else f"{base}/seg{n}.ts")
    return ("\n".join(lines) + "\n#EXT-X-ENDLIST\n").encode()


@pytest.fixture(scope="session")
def video_server():
    server = VideoServer()
    yield server
    server.close()


@pytest.fixture
def clip_url(video_server):
    """A URL that passes every check."""
    return video_server.url + "/clip.mp4"


@pytest.fixture(autouse=True)
def _counts_start_at_zero(request):
    """The callback limits count in a cache table, which no test transaction rolls
    back and no flush empties: tests that commit leave it empty for the next."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if (marker and marker.kwargs.get("transaction")) or "live_server" in request.fixturenames:
        cache.clear()


@pytest.fixture
def faults():
    """Behaviours at the fault points of uploads/faults.py, in this process, for this test
    (tests/faults.py)."""
    with ExitStack() as stack:
        yield Faults(stack)


@pytest.fixture
def mid_month(time_machine):
    """The clock at noon (UTC) on the 15th of this month, running on: a test whose outcome
    depends on the day or the month (quotas, "today" in charts and filters) is then far
    from midnight and from a month's end in every zone, on whatever day the suite runs."""
    now = timezone.now()
    time_machine.move_to(now.replace(day=15, hour=12, minute=0, second=0), tick=True)


@pytest.fixture
def team_a(db):
    return TeamFactory(name="Alpha", unique_id="alpha-scope")


@pytest.fixture
def team_b(db):
    return TeamFactory(name="Bravo", unique_id="bravo-scope")


def member_of(team, username, role=Membership.Role.MEMBER):
    user = UserFactory(username=username)
    MembershipFactory(team=team, user=user, role=role)
    return user


@pytest.fixture
def alice(team_a):
    """A member of team A."""
    return member_of(team_a, "alice")


@pytest.fixture
def bob(team_a):
    """Alice's teammate."""
    return member_of(team_a, "bob")


@pytest.fixture
def manager(team_a):
    """A manager of team A."""
    return member_of(team_a, "maria", Membership.Role.MANAGER)


@pytest.fixture
def viewer(team_a):
    """A viewer of team A: reads what alice reads, changes nothing."""
    return member_of(team_a, "victor", Membership.Role.VIEWER)


@pytest.fixture
def outsider(team_b):
    """A member of team B only."""
    return member_of(team_b, "oscar")


def give_callback_token(submission):
    """A fresh callback token for `submission`, its hash stored as a send stores it."""
    token = new_callback_token()
    Submission.objects.filter(pk=submission.pk).update(callback_token_hash=hash_token(token))
    submission.callback_token_hash = hash_token(token)
    return token


ACCEPTED_VIDEO_NO = "VI554046065381212160"
# memories.ai's callback that a submission's video was parsed, as bytes on the wire.
PARSE_BODY = json.dumps({"videoNo": ACCEPTED_VIDEO_NO, "status": "PARSE"}).encode()


def callback_unapplied(submission):
    """True while an accepted submission has taken no callback (still processing)."""
    submission.refresh_from_db()
    return (
        submission.status == Status.PROCESSING
        and not submission.events.filter(kind=Event.Kind.CALLBACK).exists()
    )


# The keys of a status change's JSON log line (uploads.events), from any process.
EVENT_KEYS = {"time", "level", "logger", "message", "pid", "submission", "team", "kind",
              "from_status", "to_status"}  # fmt: skip


@pytest.fixture
def sent(team_a, alice):
    """A submission of team A that memories.ai accepted: (submission, its callback path)."""
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.SENDING)
    token = give_callback_token(submission)
    submission.mark_accepted(video_no=ACCEPTED_VIDEO_NO, api_status="UNPARSE", message="Accepted.")
    return submission, reverse("memories_callback", args=[token])


@pytest.fixture
def as_alice(alice):
    """The headers of an API request with a new token of Alice's (read and submit)."""
    return bearer(alice)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def sandbox(settings):
    """A local memories.ai with fast rates and delays, and the portal pointed at it."""
    with Sandbox(
        uploads_per_interval=100, rate_interval=1.0, callback_delay=0.05, parse_delay=0.1
    ) as sb:
        settings.MEMORIES_API_BASE_URL = sb.url
        settings.MEMORIES_API_KEY = sb.api_key
        settings.MEMORIES_READ_TIMEOUT = 2.0
        settings.MEMORIES_UPLOADS_PER_MINUTE = 6000
        settings.SEND_RETRY_BASE_SECONDS = 0.05
        settings.SEND_HOLD_SECONDS = 0  # each call of send_next says what it found
        yield sb


def database_url():
    """The test database as a URL, for processes that tests start."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return (
        f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"
    )


@pytest.fixture
def start_worker(settings):
    """Start `db_worker` processes on the test database; they are killed after the test."""
    processes = []

    def start(clock_skew=None, log=None, queue=None, **env_overrides):
        """`clock_skew`: seconds this worker's clock is off; `log`: an open file for the
        worker's output (default: the test's own); `queue`: the task queue it takes
        (default: the sender's, "default"; "batches" for batch checks)."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "MEMORIES_API_BASE_URL": settings.MEMORIES_API_BASE_URL,
            "MEMORIES_API_KEY": settings.MEMORIES_API_KEY,
            "MEMORIES_READ_TIMEOUT": str(settings.MEMORIES_READ_TIMEOUT),
            "MEMORIES_UPLOADS_PER_MINUTE": str(settings.MEMORIES_UPLOADS_PER_MINUTE),
            "SEND_RETRY_BASE_SECONDS": str(settings.SEND_RETRY_BASE_SECONDS),
            "SEND_HOLD_SECONDS": str(settings.SEND_HOLD_SECONDS),
            "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
        }
        env.update({k: str(v) for k, v in env_overrides.items()})
        program = ["manage.py"]
        if clock_skew is not None:  # this process's clock only
            program = ["tests/live/skewed_worker.py"]
            env["CLOCK_SKEW_SECONDS"] = str(clock_skew)
        queue_args = ["--queue-name", queue] if queue else []
        process = subprocess.Popen(
            [sys.executable, *program, "db_worker", "--no-reload", "--interval", "0.05",
             "--no-startup-delay", *queue_args],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
        )  # fmt: skip
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def open_gate():
    """Skip the wait for the next upload slot (for tests that drive the sender by hand)."""
    UploadGate.get()
    past = timezone.now() - timedelta(days=1)
    UploadGate.objects.update(next_allowed_at=past, free_at=past)


def wait_for(predicate, timeout=15.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def post_batch(client, user, team, *, urls="", csv=None, name="videos.csv", **shared):
    """POST the Submit many form as `user`: pasted `urls`, or a `csv` file."""
    client.force_login(user)
    data = {"urls": urls, "team": team.pk, **shared}
    if csv is not None:
        data["file"] = SimpleUploadedFile(
            name, csv.encode() if isinstance(csv, str) else csv, content_type="text/csv"
        )
    return client.post(reverse("batch_new"), data)


def make_batch(client, user, team, **kwargs):
    """A batch made through the Submit many page, as `user`."""
    response = post_batch(client, user, team, **kwargs)
    assert response.status_code == 302, response.content.decode()[-3000:]
    return Batch.objects.latest("pk")


def check_to_end(batch, steps=1000):
    """A batch's background check, run here step by step as the batches worker runs it
    (`check_batch`, confirming at the end if asked), to its end: the batch (or its id)
    read again, which must no longer be checking. (The worker's own tests are in
    tests/live/.)"""
    batch = batch if isinstance(batch, Batch) else Batch.objects.get(pk=batch)
    for _ in range(steps):
        if check_batch.call(batch_id=batch.pk) != "more to check":
            break
    batch.refresh_from_db()
    assert batch.state != Batch.State.CHECKING, "the batch was left checking"
    return batch


@pytest.fixture
def commit_callbacks_at_once(monkeypatch):
    """What waits for the commit (a batch's check, the sender's wake-up, a log line) runs
    at once, for tests that look at its effect between two steps inside the transaction
    that never commits. (`django_capture_on_commit_callbacks` runs them at the end of its
    block: enough where one step is followed.)"""
    monkeypatch.setattr("django.db.transaction.on_commit", lambda callback, **kw: callback())


# Fixtures that start a server or a process: tests that use them live in tests/live/
# (or tests/browser/), never in tests/fast/.
STARTS_PROCESSES = {"live_server", "start_worker"}


def pytest_collection_modifyitems(config, items):
    misplaced = [
        f"{item.nodeid} uses {', '.join(sorted(STARTS_PROCESSES & set(item.fixturenames)))}"
        for item in items
        if "/fast/" in item.nodeid.replace("\\", "/") and STARTS_PROCESSES & set(item.fixturenames)
    ]
    if misplaced:
        raise pytest.UsageError(
            "These tests start servers or processes and belong in tests/live/: "
            + "; ".join(misplaced)
        )


# --- notifications: a real SMTP server and a webhook receiver, both on loopback ----------


class Mailbox:
    """What a local aiosmtpd server received, as parsed messages."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        from email import message_from_bytes, policy

        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address):
        with self.lock:
            return [m for m in self.messages if address in m["To"]]

    def text(self, message):
        return message.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture
def mailbox(settings):
    """A real SMTP server (aiosmtpd) on loopback; Django's SMTP mailer points at it."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    with socket.socket() as probe:  # a free port: aiosmtpd connects to its own to start
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }
    settings.PUBLIC_BASE_URL = "https://portal.example.com"
    yield box
    controller.stop()


class Receiver:
    """A webhook receiver: records each POST; answers `answers` in turn, then 204."""

    def __init__(self):
        self.requests = []
        self.answers = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append((self.path, dict(self.headers), body))
                    status, headers = receiver.answers.pop(0) if receiver.answers else (204, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def deliver_outbox():
    """Send what the outbox holds now, as the notifications worker would."""
    from uploads.notifications import delivery

    return delivery.deliver_due()


def processes_of_make_run(monkeypatch):
    """The commands `make run` (run_local) starts, by process name, without starting them."""
    from uploads.management.commands import run_local

    started = {}
    command = run_local.Command()
    monkeypatch.setattr(run_local, "call_command", lambda *a, **k: None)
    monkeypatch.setattr(command, "demo_login", lambda: ("demo", "pw"))
    monkeypatch.setattr(command, "supervise", lambda commands, env: started.update(commands))
    command.handle(port=8000, sandbox_port=8765)
    return started
