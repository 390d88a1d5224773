"""Asking memories.ai for the status of videos whose callbacks have not (yet) come.

Applies exactly the callback's rules (Submission.apply_api_status): idempotent,
final statuses never regressed. Runs in `run_periodic` and `manage.py sync_status`.
"""

import logging
import threading
import time
from datetime import timedelta
from itertools import groupby

from django.conf import settings
from django.db import connections
from django.db.models.functions import Now
from django.utils import timezone

from ..memories import client as api
from ..models import (
    API_STATUS_TO_STATUS,
    Event,
    MemoriesAccount,
    Status,
    Submission,
    TransitionError,
    UploadGate,
    poll_problems,
)
from .accounts import SendingNotConfigured, get_client

logger = logging.getLogger(__name__)


def next_poll_delay(submission, now):
    """Fresh videos are asked about often, old ones less (a tenth of their age)."""
    age = (now - (submission.sent_at or submission.created_at)).total_seconds()
    seconds = min(
        max(age / 10, settings.POLL_MIN_INTERVAL_SECONDS), settings.POLL_MAX_INTERVAL_SECONDS
    )
    return timedelta(seconds=seconds)


def due_for_poll():
    return (
        Submission.objects.filter(status=Status.PROCESSING, next_poll_at__lte=Now())
        .exclude(video_no="")
        .order_by("unique_id", "next_poll_at")
    )


def poll_once(limit=1000):
    """One pass over the submissions due for a poll, account by account (each with its own
    key and its own list limit). Returns how many statuses changed."""
    accounts = due_for_poll().values("team__account_id")
    return sum(
        poll_account(account, limit)
        for account in MemoriesAccount.objects.filter(pk__in=accounts).order_by("pk")
    )


# This process's poll of each account (its pk -> the thread), while it runs or until the
# next pass collects it.
_polls = {}
_polls_lock = threading.Lock()


def poll_each_account(limit=1000, wait=10.0):
    """Each account due a poll is polled in a thread of its own, so that a slow or
    hanging list_videos on one account delays no other's statuses. An account whose
    poll from an earlier pass still runs is not polled again (never two polls of one
    account at once in this process); the list rate stays the account's gate's.

    Waits up to `wait` seconds for the polls it started (never for one still hanging
    from an earlier pass); returns how many statuses changed in the polls that finished
    (the others are counted by the pass that finds them done)."""
    due = MemoriesAccount.objects.filter(pk__in=due_for_poll().values("team__account_id"))
    started = []
    with _polls_lock:
        for pk in due.order_by("pk").values_list("pk", flat=True):
            if pk not in _polls:
                _polls[pk] = _AccountPoll(pk, limit)
                _polls[pk].start()
                started.append(_polls[pk])
    deadline = time.monotonic() + wait
    for poll in started:
        poll.join(max(deadline - time.monotonic(), 0))
    with _polls_lock:
        done = [pk for pk, poll in _polls.items() if not poll.is_alive()]
        return sum(_polls.pop(pk).changed for pk in done)


class _AccountPoll(threading.Thread):
    def __init__(self, account_pk, limit):
        super().__init__(name=f"poll-account-{account_pk}", daemon=True)
        self.account_pk, self.limit, self.changed = account_pk, limit, 0

    def run(self):
        try:
            account = MemoriesAccount.objects.filter(pk=self.account_pk).first()
            if account is not None:
                self.changed = poll_account(account, self.limit)
        except Exception:
            logger.exception("status poll of account %s failed", self.account_pk)
        finally:
            connections.close_all()  # this thread's own connections


def poll_account(account, limit=1000):
    try:
        client = get_client(account)
    except SendingNotConfigured:
        return 0
    if UploadGate.get(account).paused:
        return 0  # an account problem: listing would fail the same way
    changed = 0
    due = list(due_for_poll().filter(team__account=account)[:limit])
    for scope, group in groupby(due, key=lambda s: s.unique_id):
        group = list(group)
        for start in range(0, len(group), settings.POLL_BATCH_SIZE):
            batch = group[start : start + settings.POLL_BATCH_SIZE]
            changed += _poll_batch(client, scope, batch, account)
    return changed


def _poll_batch(client, scope, batch, account):
    wait_for_list_slot(account)
    by_video = {s.video_no: s for s in batch}
    try:
        videos = client.list_videos(scope, list(by_video), size=len(by_video))
    except api.MemoriesError as exc:
        # Never read as "no videos": logged, shown by /healthz until a poll succeeds.
        logger.error("status poll for scope %s failed: %s", scope, exc.message)
        poll_problems.note(f"Polling scope {scope}: {exc.message}", account)
        _schedule_next_polls(batch)
        return 0
    poll_problems.clear(account)
    listed = {video.video_no for video in videos}
    Submission.objects.filter(pk__in=[s.pk for s in batch if s.video_no in listed]).update(
        listed_at=Now()
    )
    changed = 0
    for video in videos:
        submission = by_video.get(video.video_no)
        if submission is None or video.status not in API_STATUS_TO_STATUS:
            continue
        try:
            result = submission.apply_api_status(video.status, video.video_no, source="poll")
        except ValueError:
            continue  # a different video number than ours: never take it
        changed += result == "changed"
    now = timezone.now()
    for submission in batch:
        if submission.video_no not in listed and _unlisted_too_long(submission, now):
            changed += _ask_before_giving_up(client, submission, account)
    _schedule_next_polls(batch)
    return changed


def _schedule_next_polls(batch):
    now = timezone.now()
    for submission in batch:
        Submission.objects.filter(pk=submission.pk, status=Status.PROCESSING).update(
            next_poll_at=Now() + next_poll_delay(submission, now)
        )


def _unlisted_too_long(submission, now):
    since = submission.listed_at or submission.sent_at or submission.created_at
    return now - since > timedelta(days=settings.POLL_GIVE_UP_AFTER_DAYS)


def _ask_before_giving_up(client, submission, account):
    """A video list_videos has not returned for POLL_GIVE_UP_AFTER_DAYS: ask for it by
    number; if memories.ai does not know it, or still tells nothing, a person decides.

    Returns 1 if the status changed.
    """
    wait_for_list_slot(account)
    try:
        video = client.get_metadata(submission.video_no, submission.unique_id)
    except api.InvalidRequest as exc:
        reason = f"memories.ai does not know video {submission.video_no} ({exc.message})"
    except api.MemoriesError as exc:
        reason = f"asking for video {submission.video_no} told nothing ({exc.message})"
    else:
        if video.status in API_STATUS_TO_STATUS:
            Submission.objects.filter(pk=submission.pk).update(listed_at=Now())
            try:
                result = submission.apply_api_status(
                    video.status, submission.video_no, source="poll"
                )
            except ValueError:
                return 0
            return int(result == "changed")
        reason = f"memories.ai gave video {submission.video_no} an unknown status {video.status!r}"
    days = f"{settings.POLL_GIVE_UP_AFTER_DAYS:g}"
    try:
        submission.transition(
            Status.NEEDS_REVIEW,
            kind=Event.Kind.POLLED,
            message=f"Not listed by memories.ai for {days} days, and {reason}. "
            "Polling stopped; an administrator decides.",
            error_message=reason,
            only_from={Status.PROCESSING},
        )
    except TransitionError:
        return 0  # settled meanwhile
    return 1


def wait_for_list_slot(account):
    """Several poller processes share the account's list limit through its gate row."""
    while (opens_at := UploadGate.take_list_slot(account)) is not None:
        time.sleep(max((opens_at - timezone.now()).total_seconds(), 0.001))
