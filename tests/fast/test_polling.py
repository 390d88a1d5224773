"""Polling: within the list rate, never silent about an answer it cannot read, and
giving up (to a person) on a video memories.ai stopped listing."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.conftest import member_of, open_gate, wait_for
from tests.factories import SubmissionFactory
from uploads.models import Event, MemoriesAccount, Status, Submission, Team, UploadGate
from uploads.sending import polling
from uploads.sending import sender as sending

pytestmark = pytest.mark.django_db(transaction=True)


def processing(team, user, video_no, *, sent_at, next_poll_at):
    """A submission memories.ai took as `video_no` (which the sandbox may never have seen)."""
    return SubmissionFactory(
        team=team,
        submitter=user,
        status=Status.PROCESSING,
        video_no=video_no,
        unique_id=team.unique_id,
        sent_at=sent_at,
        next_poll_at=next_poll_at,
    )


def send_all(team, user, n):
    submissions = [SubmissionFactory(team=team, submitter=user) for _ in range(n)]
    for _ in submissions:
        open_gate()
        sending.send_next()
    return submissions


def test_polling_keeps_within_the_list_rate(sandbox, settings, alice, team_a):
    settings.POLL_MIN_INTERVAL_SECONDS = 0
    settings.POLL_BATCH_SIZE = 1  # one list request per video
    settings.MEMORIES_LIST_PER_SECOND = sandbox.list_rate_per_second = 20
    sandbox.callbacks_enabled = False
    send_all(team_a, alice, 30)
    assert sandbox.wait_until(lambda: all(v["status"] == "PARSE" for v in sandbox.videos.values()))
    assert polling.poll_once() == 30
    assert sandbox.max_list_in_window(1.0) <= 20
    assert UploadGate.get().poll_problem == ""


def test_a_video_unlisted_for_too_long_is_asked_for_then_set_aside(
    sandbox, settings, alice, team_a
):
    settings.POLL_MIN_INTERVAL_SECONDS = 0
    settings.POLL_GIVE_UP_AFTER_DAYS = 7
    sandbox.callbacks_enabled = False
    [known] = send_all(team_a, alice, 1)
    week_ago = timezone.now() - timedelta(days=8)
    known.refresh_from_db()
    lost = processing(
        team_a, alice, "VI000000000000000001", sent_at=week_ago, next_poll_at=week_ago
    )
    recent = processing(
        team_a,
        alice,
        "VI000000000000000002",
        sent_at=timezone.now() - timedelta(days=1),
        next_poll_at=week_ago,
    )
    Submission.objects.filter(pk=known.pk).update(sent_at=week_ago)
    polling.poll_once()
    lost.refresh_from_db()
    assert lost.status == Status.NEEDS_REVIEW
    assert "does not know video VI000000000000000001" in lost.error_message
    event = lost.events.get(kind=Event.Kind.POLLED)
    assert "Not listed by memories.ai for 7 days" in event.message
    recent.refresh_from_db()
    assert recent.status == Status.PROCESSING  # not long enough yet
    known.refresh_from_db()
    assert known.status in (Status.PROCESSING, Status.PARSED)  # listed: still followed
    assert known.listed_at is not None


class OddAnswers:
    """A memories.ai that answers list_videos successfully, in a shape nobody documented."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.dumps({"code": "0000", "msg": "success", "data": {"items": []}})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_an_answer_of_an_unknown_shape_is_an_error_shown_by_the_workers_health(
    settings, alice, team_a, client
):
    odd = OddAnswers()
    settings.MEMORIES_API_BASE_URL = odd.url
    settings.POLL_MIN_INTERVAL_SECONDS = 0
    try:
        submission = processing(
            team_a,
            alice,
            "VI000000000000000003",
            sent_at=timezone.now() - timedelta(days=30),
            next_poll_at=timezone.now() - timedelta(minutes=1),
        )
        assert polling.poll_once() == 0
    finally:
        odd.close()
    submission.refresh_from_db()
    assert submission.status == Status.PROCESSING  # not given up on: nothing was learned
    problem = UploadGate.get().poll_problem
    assert "without a list of videos" in problem
    report = client.get(reverse("healthz_workers")).json()
    assert report["polling"]["problem"] == problem
    assert report["polling"]["since"] is not None


def test_a_hanging_list_on_one_account_delays_no_other_accounts_statuses(
    sandbox, settings, alice, team_a, team_b
):
    settings.POLL_MIN_INTERVAL_SECONDS = 0
    settings.MEMORIES_READ_TIMEOUT = 30.0  # the hang lasts: no timeout ends it
    sandbox.callbacks_enabled = False
    west = sandbox.add_account("sk-mavi-west-poll", "west", callbacks_enabled=False)
    account = MemoriesAccount.objects.create(
        name="west", api_base_url=sandbox.url, api_key="sk-mavi-west-poll"
    )
    Team.objects.filter(pk=team_b.pk).update(account=account)
    [ours] = send_all(team_a, alice, 1)
    [theirs] = send_all(team_b, member_of(team_b, "oscar"), 1)
    assert sandbox.wait_until(lambda: len(sandbox.videos) == len(west.videos) == 1)
    assert sandbox.wait_until(
        lambda: all(
            v["status"] == "PARSE" for v in [*sandbox.videos.values(), *west.videos.values()]
        )
    )
    west.slow_list = 4.0

    started = time.monotonic()
    assert polling.poll_each_account(wait=1.0) == 1  # the default account's, in time
    assert time.monotonic() - started < 2.5
    ours.refresh_from_db(), theirs.refresh_from_db()
    assert ours.status == Status.PARSED and theirs.status == Status.PROCESSING
    # West's poll still hangs: not started again, and not waited for either.
    started = time.monotonic()
    polling.poll_each_account(wait=10.0)
    assert time.monotonic() - started < 1.5
    assert west.list_requests == 1

    def west_done():
        polling.poll_each_account(wait=0.2)
        theirs.refresh_from_db()
        return theirs.status == Status.PARSED and not polling._polls

    assert wait_for(west_done, timeout=15)
    assert west.list_requests == 1
