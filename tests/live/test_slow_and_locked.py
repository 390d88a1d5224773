"""What one slow or stuck party must not do to everyone else.

SQLite has one write lock for the whole file: a callback that held it while
its body trickled in made form submissions wait and fail, and a lock held past
the timeout used to end the worker and `run_periodic` for good.
"""

import json
import socket
import sqlite3
import subprocess
import threading
import time

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from tests.conftest import ACCEPTED_VIDEO_NO, give_callback_token, wait_for
from tests.factories import SubmissionFactory
from tests.servers import manage
from uploads import heartbeats
from uploads.models import ProcessBeat, Status, Submission
from uploads.tasks import wake_sender

pytestmark = pytest.mark.django_db(transaction=True)

PARSE = json.dumps({"videoNo": ACCEPTED_VIDEO_NO, "status": "PARSE"}).encode()


class Trickle(threading.Thread):
    """A caller that sends its headers, then its body one byte at a time."""

    def __init__(self, address, path, body, seconds_per_byte):
        super().__init__(daemon=True)
        self.address, self.path, self.body = address, path, body
        self.seconds_per_byte = seconds_per_byte
        self.sending = threading.Event()  # headers and the first bytes are out
        self.stop = threading.Event()
        self.answer = b""

    def run(self):
        with socket.create_connection(self.address, timeout=60) as sock:
            host, port = self.address
            sock.sendall(
                f"POST {self.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(self.body)}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            for n, byte in enumerate(self.body):
                sock.sendall(bytes([byte]))
                if n == 2:
                    self.sending.set()
                if self.stop.wait(self.seconds_per_byte):
                    return
            while chunk := sock.recv(65536):
                self.answer += chunk

    @property
    def status(self):
        return int(self.answer.split(b" ", 2)[1]) if self.answer else None


def heartbeat_after(moment, kinds=(heartbeats.SENDER,)):
    """Every one of these kinds of process has beaten since `moment`."""
    return ProcessBeat.objects.filter(process__in=kinds, beat_at__gt=moment).count() == len(kinds)


def test_a_callback_sent_slowly_delays_neither_a_submission_nor_the_worker(
    live_server, sandbox, client, alice, team_a, start_worker, clip_url
):
    started = timezone.now()
    start_worker()
    assert wait_for(lambda: heartbeat_after(started), timeout=30), "the worker did not start"

    client.force_login(alice)
    waiting = SubmissionFactory(team=team_a, submitter=alice, status=Status.SENDING)
    token = give_callback_token(waiting)
    waiting.mark_accepted(video_no=ACCEPTED_VIDEO_NO, api_status="UNPARSE", message="Accepted.")
    host, port = live_server.url.removeprefix("http://").split(":")
    # About ten seconds for the body: far longer than what follows needs.
    slow = Trickle(
        (host, int(port)), reverse("memories_callback", args=[token]), PARSE, 10 / len(PARSE)
    )
    slow.start()
    try:
        assert slow.sending.wait(10)

        # A person submits a video meanwhile: it is saved at once...
        began = time.monotonic()
        response = client.post(reverse("submission_new"), {"team": team_a.pk, "url": clip_url})
        took = time.monotonic() - began
        assert response.status_code == 302
        assert took < 3, f"the form took {took:.1f} s"
        # ...and the worker sends it, all before the slow body is complete.
        new = Submission.objects.get(url=clip_url)
        assert wait_for(
            lambda: Submission.objects.get(pk=new.pk).status == Status.PROCESSING, timeout=6
        )
        assert slow.is_alive(), "the slow callback ended before the checks: they prove nothing"
    finally:
        slow.join(timeout=30)
        slow.stop.set()
    assert slow.status == 200
    waiting.refresh_from_db()
    assert waiting.status == Status.PARSED


@pytest.fixture
def sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("a write lock on the whole database is SQLite's")


def test_the_worker_and_run_periodic_outlive_a_locked_database(
    sqlite_only, sandbox, alice, team_a, start_worker, tmp_path, clip_url
):
    # Short waits for the lock and between tries, so the test sees several of each.
    quick = {"SQLITE_TIMEOUT": "0.3", "DB_RETRY_BASE_SECONDS": "0.1", "DB_RETRY_MAX_SECONDS": "0.5",
             "HEARTBEAT_INTERVAL_SECONDS": "0.5"}  # fmt: skip
    worker_log, periodic_log = tmp_path / "worker.log", tmp_path / "periodic.log"
    started = timezone.now()
    with worker_log.open("w") as log:
        worker = start_worker(log=log, **quick)
    with periodic_log.open("w") as log:
        periodic = manage(
            "run_periodic", "--interval", "0.2", env=quick, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        both = (heartbeats.SENDER, heartbeats.PERIODIC)
        assert wait_for(lambda: heartbeat_after(started, both), timeout=30), "they did not start"

        # Another process takes the write lock and keeps it, past their timeouts.
        holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        logged = {log: len(log.read_text()) for log in (worker_log, periodic_log)}
        try:
            assert wait_for(
                lambda: all(
                    "database is locked" in log.read_text()[n:] for log, n in logged.items()
                ),
                timeout=30,
            ), "not both processes met the lock:\n" + "\n---\n".join(
                f"{log.name} (lock taken at character {n}):\n{log.read_text()[-3000:]}"
                for log, n in logged.items()
            )
            assert worker.poll() is None, worker_log.read_text()
            assert periodic.poll() is None, periodic_log.read_text()
        finally:
            holder.execute("ROLLBACK")
            holder.close()

        # Released: both are alive and back at work.
        released = timezone.now()
        assert wait_for(lambda: heartbeat_after(released, both), timeout=30), (
            periodic_log.read_text()
        )
        submission = SubmissionFactory(
            team=team_a, submitter=alice, url=clip_url, status=Status.QUEUED
        )
        wake_sender()
        assert wait_for(
            lambda: Submission.objects.get(pk=submission.pk).status == Status.PROCESSING,
            timeout=30,
        ), worker_log.read_text()
        assert worker.poll() is None and periodic.poll() is None
    finally:
        periodic.terminate()
        periodic.wait(timeout=30)
