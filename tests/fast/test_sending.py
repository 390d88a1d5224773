"""The sender against the sandbox over real HTTP, one wake-up at a time."""

import time
from datetime import timedelta

import pytest

from tests.factories import SubmissionFactory
from uploads.memories import client as api
from uploads.models import Event, Status, UploadGate
from uploads.sending import accounts
from uploads.sending import sender as sending


@pytest.fixture
def queued(team_a, alice, sandbox):
    return SubmissionFactory(
        team=team_a, submitter=alice, tags=["x", "y"], camera_model="GoPro", latitude="1.5",
        longitude="2.5",
    )  # fmt: skip


def test_an_accepted_submission_is_processing_with_its_video_number(queued, sandbox, settings):
    settings.PUBLIC_BASE_URL = "http://portal.example.com"
    outcome, _ = sending.send_next()
    assert outcome == f"sent {queued.pk}"
    queued.refresh_from_db()
    assert queued.status == Status.PROCESSING
    assert queued.api_status == "UNPARSE"
    assert queued.video_no in sandbox.videos
    assert queued.unique_id == "alpha-scope"
    fields = sandbox.uploads[-1].fields
    assert fields["tags"] == ["x", "y"]
    assert fields["camera_model"] == ["GoPro"]
    assert fields["callback"][0].startswith("http://portal.example.com/callbacks/memories/")
    kinds = list(queued.events.values_list("kind", flat=True))
    assert kinds == [Event.Kind.CLAIMED, Event.Kind.ACCEPTED]


def test_without_a_public_base_url_no_callback_is_sent(queued, sandbox, settings):
    settings.PUBLIC_BASE_URL = ""
    sending.send_next()
    assert "callback" not in sandbox.uploads[-1].fields


def test_a_refused_send_keeps_the_apis_code_and_message(queued, sandbox):
    sandbox.set_fault("code", times=1, code="0001", msg="url is not a video")
    sending.send_next()
    queued.refresh_from_db()
    assert queued.status == Status.FAILED
    assert (queued.error_code, queued.error_message) == ("0001", "url is not a video")


def test_rate_limited_goes_back_to_the_queue_and_the_gate_waits(queued, sandbox, settings):
    # A backoff long enough that a busy machine cannot reach its end before the last line.
    settings.SEND_RETRY_BASE_SECONDS = 30
    sandbox.set_fault("rate_limit", times=1)
    sending.send_next()
    queued.refresh_from_db()
    assert queued.status == Status.QUEUED
    assert queued.attempts == 0
    gate = UploadGate.get()
    assert gate.rate_limited_streak == 1
    assert sending.send_next()[0] == "waiting for the gate"


def test_not_taken_is_retried_later_then_given_up(queued, sandbox, settings):
    settings.SEND_MAX_ATTEMPTS = 2
    settings.SEND_RETRY_BASE_SECONDS = 0
    sandbox.set_fault("http_503")
    sending.send_next()
    queued.refresh_from_db()
    assert queued.status == Status.QUEUED and queued.attempts == 1
    assert queued.events.filter(kind=Event.Kind.RETRY).exists()
    time.sleep(0.02)  # the next upload slot
    sending.send_next()
    queued.refresh_from_db()
    assert queued.status == Status.FAILED
    assert "Gave up after 2 attempts" in queued.events.last().message


def test_account_problems_pause_everything_and_keep_the_submission_waiting(queued, sandbox):
    other = SubmissionFactory(team=queued.team, submitter=queued.submitter)
    sandbox.set_fault("code", times=1, code="0402", msg="not enough points")
    sending.send_next()
    queued.refresh_from_db()
    assert queued.status == Status.QUEUED
    gate = UploadGate.get()
    assert gate.paused and "not enough points" in gate.paused_reason
    assert sending.send_next()[0] == "paused"
    other.refresh_from_db()
    assert other.status == Status.QUEUED and other.attempts == 0
    assert len(sandbox.uploads) == 1


def test_an_unknown_outcome_needs_review_and_is_not_resent(queued, sandbox):
    sandbox.set_fault("http_500", times=1)
    sending.send_next()
    queued.refresh_from_db()
    assert queued.status == Status.NEEDS_REVIEW
    assert sending.send_next()[0] == "idle"
    assert len(sandbox.uploads) == 1


def test_without_a_key_sending_is_refused_with_a_clear_message(queued, settings):
    settings.MEMORIES_API_KEY = ""
    settings.MEMORIES_SANDBOX = False
    assert sending.send_next()[0] == "not configured"
    assert "no MEMORIES_API_KEY is set" in UploadGate.get().paused_reason
    queued.refresh_from_db()
    assert queued.status == Status.QUEUED


def test_the_gate_allows_one_send_per_interval(queued, sandbox, settings):
    settings.MEMORIES_UPLOADS_PER_MINUTE = 1
    SubmissionFactory(team=queued.team, submitter=queued.submitter)
    assert sending.send_next()[0].startswith("sent")
    outcome, again_at = sending.send_next()
    assert outcome == "waiting for the gate"
    # On this host's clock: the database's, give or take the moment between two reads.
    assert abs(again_at - UploadGate.get().next_allowed_at) < timedelta(seconds=0.5)
    assert len(sandbox.uploads) == 1


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("MEMORIES_API_BASE_URL", "api.memories.ai", "MEMORIES_API_BASE_URL"),
        ("MEMORIES_API_BASE_URL", "ftp://api.memories.ai", "MEMORIES_API_BASE_URL"),
        ("MEMORIES_API_KEY", "sk-real-key\n", "MEMORIES_API_KEY"),
        ("MEMORIES_API_KEY", "sk-réal-key", "MEMORIES_API_KEY"),
    ],
)
def test_a_misconfigured_address_or_key_pauses_sending_with_the_reason(
    queued, sandbox, settings, setting, value, named
):
    setattr(settings, setting, value)
    assert sending.send_next()[0] == "not configured"
    gate = UploadGate.get()
    assert gate.paused and named in gate.paused_reason
    assert "sk-r" not in gate.paused_reason  # never the key
    queued.refresh_from_db()
    assert queued.status == Status.QUEUED
    assert not queued.events.exclude(kind=Event.Kind.CREATED).exists()
    assert len(sandbox.uploads) == 0


@pytest.mark.parametrize(
    ("base_url", "key"),
    [
        ("htp://127.0.0.1:9", "sk-key"),  # no adapter for the scheme
        ("http://", "sk-key"),  # no host
        ("http://127.0.0.1:9", "sk-key\r\nX-Other: 1"),  # no valid header value
    ],
)
def test_the_client_says_an_unusable_configuration_is_not_a_send(base_url, key):
    client = api.MemoriesClient(base_url, key)
    with pytest.raises(api.Misconfigured) as caught:
        client.upload_url(api.UploadRequest(url="https://videos.example.com/a.mp4", unique_id="x"))
    assert "sk-key" not in caught.value.message


def test_an_unusable_configuration_found_while_sending_pauses_and_keeps_the_place(
    queued, sandbox, monkeypatch
):
    # Past the configuration check, the client still refuses: the same pause.
    monkeypatch.setattr(accounts, "checked_configuration", lambda account: ("htp://x", "sk-key"))
    sending.send_next()
    queued.refresh_from_db()
    assert queued.status == Status.QUEUED
    assert "cannot be used" in UploadGate.get().paused_reason
