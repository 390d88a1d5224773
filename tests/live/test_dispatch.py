"""Reliable sending with real worker processes against the sandbox, over real HTTP.

Rates and intervals are fractions of a second; no test waits on the real rate.
"""

import os
import signal
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from tests.conftest import open_gate, wait_for
from tests.factories import SubmissionFactory
from tests.faults import pausing
from uploads import periodic
from uploads.models import Event, Status, Submission, UploadGate
from uploads.sending import polling
from uploads.sending import sender as sending
from uploads.tasks import wake_sender

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 1.0  # seconds a killed worker's claim lasts in these tests


def queue_many(team, user, n):
    submissions = [SubmissionFactory(team=team, submitter=user) for _ in range(n)]
    wake_sender()
    return submissions


def kill_worker_at(point, start_worker, reached):
    """Start a worker that pauses at the fault `point`, SIGKILL it there, let its lease run
    out."""
    doomed = start_worker(**pausing(point), SEND_LEASE_SECONDS=LEASE)
    assert wait_for(reached)
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait()
    time.sleep(LEASE * 1.2)


def test_a_worker_killed_before_sending_loses_nothing(
    sandbox, settings, alice, team_a, start_worker
):
    [submission] = queue_many(team_a, alice, 1)
    kill_worker_at(
        "send.before_request",
        start_worker,
        lambda: Submission.objects.get().status == Status.SENDING,
    )
    assert periodic.recover_abandoned_sends() == 1
    submission.refresh_from_db()
    assert submission.status == Status.QUEUED
    start_worker()
    periodic.ensure_sender_awake()
    assert wait_for(lambda: len(sandbox.accepted) == 1)
    assert wait_for(lambda: Submission.objects.get().status != Status.SENDING)
    assert len(sandbox.uploads) == 1
    assert submission.events.filter(kind=Event.Kind.RECOVERED).exists()


def test_a_worker_killed_after_sending_leaves_it_for_review_not_resent(
    sandbox, settings, alice, team_a, start_worker
):
    [submission] = queue_many(team_a, alice, 1)
    kill_worker_at("send.after_request", start_worker, lambda: len(sandbox.accepted) == 1)
    assert periodic.recover_abandoned_sends() == 1
    submission.refresh_from_db()
    assert submission.status == Status.NEEDS_REVIEW
    start_worker()
    periodic.ensure_sender_awake()
    time.sleep(1.0)  # time enough for a resend, which must not come
    assert len(sandbox.uploads) == 1


def test_fairness_team_b_goes_within_the_next_two_sends(
    sandbox, settings, alice, outsider, team_a, team_b
):
    queue_many(team_a, alice, 50)
    sending.send_next()  # one of A's is under way
    [b_item] = queue_many(team_b, outsider, 1)
    for _ in range(2):
        open_gate()
        sending.send_next()
    b_item.refresh_from_db()
    assert b_item.status != Status.QUEUED


@pytest.mark.parametrize(
    ("fault", "params", "expected"),
    [
        ("http_502", {}, Status.QUEUED),
        ("http_503", {}, Status.QUEUED),
        ("code", {"code": "0001"}, Status.FAILED),
        ("code", {"code": "0003"}, Status.FAILED),
        ("code", {"code": "0409"}, Status.FAILED),
        ("http_500", {}, Status.NEEDS_REVIEW),
        ("http_504", {}, Status.NEEDS_REVIEW),
        ("drop", {}, Status.NEEDS_REVIEW),
        ("malformed", {}, Status.NEEDS_REVIEW),
        ("rate_limit", {}, Status.QUEUED),
    ],
)
def test_each_failure_kind_leads_to_its_documented_state(
    sandbox, settings, alice, team_a, start_worker, fault, params, expected
):
    settings.SEND_RETRY_BASE_SECONDS = 60  # a retry would come long after the test
    sandbox.set_fault(fault, times=1, **params)
    [submission] = queue_many(team_a, alice, 1)
    start_worker()
    assert wait_for(
        lambda: Event.objects.filter(
            kind__in=[Event.Kind.RETRY, Event.Kind.REFUSED, Event.Kind.UNKNOWN]
        ).exists()
    )
    submission.refresh_from_db()
    assert submission.status == expected, submission.events.last().message
    if expected == Status.FAILED:
        assert submission.error_code == params["code"]


@pytest.mark.parametrize("code", ["0401", "0402", "0403", "9009"])
def test_account_level_codes_pause_the_queue_and_resume_works(
    sandbox, alice, team_a, superuser, client, code, start_worker
):
    sandbox.set_fault("code", times=1, code=code, msg="account problem")
    first, second = queue_many(team_a, alice, 2)
    start_worker()
    assert wait_for(lambda: UploadGate.get().paused)
    time.sleep(0.5)  # time enough for a second send, which must not come
    assert Submission.objects.filter(status=Status.QUEUED).count() == 2
    assert len(sandbox.uploads) == 1
    client.force_login(superuser)
    page = client.get(reverse("submission_list")).content.decode()
    assert "account problem" in page and "Resume sending" in page
    client.post(reverse("sending_resume"))
    assert not UploadGate.get().paused
    assert wait_for(lambda: len(sandbox.accepted) == 2)


def test_polling_brings_statuses_home_without_callbacks(sandbox, settings, alice, team_a):
    settings.POLL_MIN_INTERVAL_SECONDS = 0
    settings.MEMORIES_LIST_PER_SECOND = 5
    settings.POLL_BATCH_SIZE = 2
    sandbox.callbacks_enabled = False
    sandbox.set_fault("parse_error", times=1)
    submissions = queue_many(team_a, alice, 5)
    for _ in submissions:
        open_gate()
        sending.send_next()
    assert Submission.objects.filter(status=Status.PROCESSING).count() == 5
    assert sandbox.wait_until(
        lambda: all(v["status"] != "UNPARSE" for v in sandbox.videos.values())
    )
    call_command("sync_status")
    statuses = sorted(Submission.objects.values_list("status", flat=True))
    assert statuses == [Status.PARSE_ERROR] + [Status.PARSED] * 4
    assert Event.objects.filter(kind=Event.Kind.POLLED).count() == 5
    assert sandbox.max_list_in_window(1.0) <= 5
    assert sandbox.count("0429") == 0


def test_polling_asks_about_old_videos_less_often(alice, team_a, settings):
    settings.POLL_MIN_INTERVAL_SECONDS = 30
    settings.POLL_MAX_INTERVAL_SECONDS = 3600
    now = timezone.now()
    fresh = SubmissionFactory(team=team_a, submitter=alice, sent_at=now - timedelta(minutes=1))
    hour = SubmissionFactory(team=team_a, submitter=alice, sent_at=now - timedelta(hours=1))
    day = SubmissionFactory(team=team_a, submitter=alice, sent_at=now - timedelta(days=1))
    assert polling.next_poll_delay(fresh, now) == timedelta(seconds=30)
    assert polling.next_poll_delay(hour, now) == timedelta(minutes=6)
    assert polling.next_poll_delay(day, now) == timedelta(hours=1)
