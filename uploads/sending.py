"""Sending waiting submissions to memories.ai, one per upload slot.

The queue's order and the upload rate gate live in the portal's own tables;
the task backend only carries wake-ups ("send the next waiting submission").
"""

import logging
import random
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from . import client as api
from . import probe, url_policy
from .models import Event, Status, Submission, TransitionError, UploadGate
from .queue import next_in_line

logger = logging.getLogger(__name__)


class SendingNotConfigured(Exception):
    pass


def api_key():
    """The key to send with, or SendingNotConfigured with what is missing."""
    if settings.MEMORIES_API_KEY:
        return settings.MEMORIES_API_KEY
    if settings.MEMORIES_SANDBOX:
        return settings.MEMORIES_SANDBOX_KEY
    raise SendingNotConfigured(
        "Sending is off: no MEMORIES_API_KEY is set (and the sandbox is not chosen). "
        "Submissions wait until an administrator sets the key and resumes sending."
    )


def get_client():
    """The memories.ai client, or SendingNotConfigured with what is missing."""
    return api.MemoriesClient(
        settings.MEMORIES_API_BASE_URL,
        api_key(),
        connect_timeout=settings.MEMORIES_CONNECT_TIMEOUT,
        read_timeout=settings.MEMORIES_READ_TIMEOUT,
    )


def sending_problem():
    """Why nothing is being sent right now, or "" when sending works."""
    try:
        api_key()
    except SendingNotConfigured as exc:
        return str(exc)
    gate = UploadGate.get()
    if gate.paused:
        return f"Sending is paused: {gate.paused_reason}"
    return ""


def callback_url(token):
    return settings.PUBLIC_BASE_URL + reverse("memories_callback", args=[token])


def build_upload_request(submission, callback=""):
    return api.UploadRequest(
        url=submission.url,
        unique_id=submission.team.unique_id,
        callback=callback,
        datetime_taken=(
            timezone.localtime(submission.datetime_taken).strftime("%Y-%m-%d %H:%M:%S")
            if submission.datetime_taken
            else ""
        ),
        camera_model=submission.camera_model,
        latitude="" if submission.latitude is None else str(submission.latitude),
        longitude="" if submission.longitude is None else str(submission.longitude),
        tags=list(submission.tags),
        retain_original_video=submission.retain_original_video,
        video_transcription_prompt=submission.video_transcription_prompt,
    )


def lease_seconds():
    # Longer than the longest request can take, so a live worker keeps its lease.
    if settings.SEND_LEASE_SECONDS:
        return settings.SEND_LEASE_SECONDS
    return settings.MEMORIES_CONNECT_TIMEOUT + settings.MEMORIES_READ_TIMEOUT + 30


def retry_delay(attempt):
    """Exponential backoff with jitter, for retry-safe failures."""
    base = settings.SEND_RETRY_BASE_SECONDS * (2 ** max(attempt - 1, 0))
    delay = min(base, settings.SEND_RETRY_MAX_SECONDS)
    return timedelta(seconds=delay * random.uniform(0.8, 1.2))


def send_next():
    """Send the next waiting submission if the gate allows; say what happened.

    Returns (outcome, run_again_at): when to wake up next, or None.
    """
    try:
        client = get_client()
    except SendingNotConfigured as exc:
        UploadGate.pause(str(exc))
        return "not configured", None
    if UploadGate.get().paused:
        return "paused", None
    drop_dead_links()
    if not Submission.objects.ready_to_send().exists():
        return "idle", Submission.objects.next_retry_at()
    opens_at = UploadGate.take_slot()
    if opens_at is not None:
        return "waiting for the gate", opens_at
    submission = Submission.claim_next(lease_seconds())
    if submission is None:
        return "idle", Submission.objects.next_retry_at()
    send(submission, client)
    if Submission.objects.ready_to_send().exists():
        return f"sent {submission.pk}", UploadGate.get().next_allowed_at
    return f"sent {submission.pk}", Submission.objects.next_retry_at()


def needs_recheck(submission, now):
    """Waited long enough since its URL was last checked that the link may have died."""
    if submission.confirm_public:
        return False  # the portal could not reach it in the first place
    checked = submission.probe.get("rechecked_at") or submission.probe.get("checked_at")
    last = datetime.fromisoformat(checked) if checked else submission.created_at
    return (now - last).total_seconds() > settings.URL_RECHECK_AFTER_SECONDS


def drop_dead_links(limit=5):
    """Re-check the next in line if it waited long; fail it if its link died meanwhile.

    Done before an upload slot is taken, so a dead link costs no slot.
    """
    for _ in range(limit):
        pk = next_in_line()
        if pk is None:
            return
        submission = Submission.objects.select_related("team").get(pk=pk)
        now = timezone.now()
        if not needs_recheck(submission, now):
            return
        try:
            probe.recheck_url(submission.url, **url_policy.probe_options(submission.team))
        except probe.ProbeError as exc:
            try:
                submission.transition(
                    Status.FAILED,
                    kind=Event.Kind.REFUSED,
                    message=f"The link stopped working while it waited: {exc.message}",
                    error_message=f"The link stopped working while it waited: {exc.message}",
                )
            except TransitionError:
                return  # cancelled or claimed meanwhile
            continue
        Submission.objects.filter(pk=pk).update(
            probe={**submission.probe, "rechecked_at": now.isoformat()}
        )
        return


def send(submission, client):
    """Send one claimed submission and record what came of it."""
    token = submission.new_callback_token() if settings.PUBLIC_BASE_URL else ""
    upload = build_upload_request(submission, callback_url(token) if token else "")
    _test_pause_point("before_request")
    submission.mark_request_started(upload.unique_id)
    # Space requests by their departure, not by when the slot was taken.
    UploadGate.mark_request_leaving()
    try:
        accepted = client.upload_url(upload)
    except api.RateLimited as exc:
        # Not the submission's fault: back to the head of its line, and the
        # gate waits longer each time memories.ai says it is busy.
        delay = retry_delay(UploadGate.get().rate_limited_streak + 1)
        UploadGate.push_back(delay)
        _back_in_line(
            submission,
            Event.Kind.RETRY,
            f"memories.ai is busy ({exc.code}); trying again in {delay.total_seconds():.0f} s.",
        )
    except api.NotSent as exc:
        _retry_or_fail(submission, exc)
    except api.InvalidRequest as exc:
        submission.transition(
            Status.FAILED,
            kind=Event.Kind.REFUSED,
            message=exc.message,
            error_code=exc.code,
            error_message=exc.message,
            lease_expires_at=None,
            data={"code": exc.code},
        )
    except api.AccountProblem as exc:
        # Every other submission would fail the same way: stop them all.
        UploadGate.pause(f"memories.ai refused the account ({exc.code}): {exc.message}")
        _back_in_line(
            submission,
            Event.Kind.REFUSED,
            f"Sending paused: {exc.message} ({exc.code}). It keeps its place.",
            data={"code": exc.code},
        )
    except api.UnknownOutcome as exc:
        submission.transition(
            Status.NEEDS_REVIEW,
            kind=Event.Kind.UNKNOWN,
            message=f"{exc.message} memories.ai may have taken it; it is not resent "
            "automatically. A callback will settle it, or an administrator decides.",
            error_message=exc.message,
            lease_expires_at=None,
        )
    else:
        UploadGate.reset_streak()
        _test_pause_point("after_request")
        submission.mark_accepted(
            video_no=accepted.video_no,
            api_status=accepted.video_status,
            message=f"Accepted as {accepted.video_no} in scope “{upload.unique_id}”.",
        )
    logger.info(
        "submission=%s team=%s status=%s", submission.pk, submission.team_id, submission.status
    )


def _back_in_line(submission, kind, message, data=None):
    """Not sent, through no fault of its own: back to its place, the attempt not counted."""
    submission.transition(
        Status.QUEUED,
        kind=kind,
        message=message,
        attempts=submission.attempts - 1,
        request_started_at=None,
        lease_expires_at=None,
        data=data,
    )


def _retry_or_fail(submission, exc):
    if submission.attempts >= settings.SEND_MAX_ATTEMPTS:
        submission.transition(
            Status.FAILED,
            kind=Event.Kind.REFUSED,
            message=f"{exc.message} Gave up after {submission.attempts} attempts.",
            error_code=exc.code,
            error_message=exc.message,
            lease_expires_at=None,
        )
        return
    delay = retry_delay(submission.attempts)
    submission.transition(
        Status.QUEUED,
        kind=Event.Kind.RETRY,
        message=f"{exc.message} Not taken; trying again in {int(delay.total_seconds())} s.",
        not_before=timezone.now() + delay,
        request_started_at=None,
        lease_expires_at=None,
    )


def _test_pause_point(name):
    """Tests kill a worker exactly here: it sleeps when SEND_TEST_PAUSE names this point."""
    if name == settings.SEND_TEST_PAUSE:
        logger.warning("pausing at %s for a test", name)
        time.sleep(settings.SEND_TEST_PAUSE_SECONDS)
