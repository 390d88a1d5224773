"""Periodic work: worker heartbeats, recovery of abandoned sends, wake-ups, status polling.

Django's tasks framework has no scheduler; `manage.py run_periodic` calls
`run_once` in a loop. Every step is safe to run in several processes at once
(each change is a conditional UPDATE or a locked transition), so running more
than one instance costs a little work and breaks nothing. Each step runs on its
own: one that fails (a locked database, a lost connection) is logged, and the
others still run.
"""

import logging

from django.core.management import call_command
from django.utils import timezone

from .models import Event, Status, Submission, TransitionError, UploadGate
from .polling import poll_once
from .resilience import TRANSIENT_DB_ERRORS, reset_connections
from .tasks import request_heartbeat, wake_sender

logger = logging.getLogger(__name__)


def recover_abandoned_sends():
    """Submissions left "sending" past their lease: the worker that claimed them is gone.

    If its request had not started, nothing left: back to the queue. If it had,
    memories.ai may have taken it: a person decides (a callback may settle it).
    """
    recovered = 0
    stale = Submission.objects.filter(status=Status.SENDING, lease_expires_at__lt=timezone.now())
    for submission in stale:
        try:
            if submission.request_started_at is None:
                submission.transition(
                    Status.QUEUED,
                    kind=Event.Kind.RECOVERED,
                    message="The worker stopped before sending; back in the queue.",
                    attempts=max(submission.attempts - 1, 0),
                    lease_expires_at=None,
                )
            else:
                submission.transition(
                    Status.NEEDS_REVIEW,
                    kind=Event.Kind.RECOVERED,
                    message="The worker stopped after the request left; memories.ai may have "
                    "it. Not resent automatically.",
                    error_message="The worker stopped while sending.",
                    lease_expires_at=None,
                )
            recovered += 1
        except TransitionError:
            continue  # it moved on meanwhile (a late callback, or the worker finished)
    return recovered


def ensure_sender_awake():
    """A lost wake-up must not strand the queue."""
    gate = UploadGate.get()
    if gate.paused or not Submission.objects.ready_to_send().exists():
        return False
    wake_sender(at=gate.next_allowed_at)
    return True


def prune_task_results():
    """Task results older than a week go (the worker keeps one per task run)."""
    call_command("prune_db_task_results", min_age_days=7, verbosity=0)


def run_once(prune=False):
    """One pass, every step on its own. Returns what was done and the steps that failed."""
    failed = []

    def step(name, function, default=None):
        try:
            return function()
        except TRANSIENT_DB_ERRORS as exc:
            logger.warning("periodic step %s failed, the others go on: %s", name, exc)
        except Exception:
            logger.exception("periodic step %s failed, the others go on", name)
        failed.append(name)
        reset_connections()
        return default

    # Names are looked up at each call, so each step is the module's current one.
    step("heartbeat", lambda: request_heartbeat())
    recovered = step("recovery", lambda: recover_abandoned_sends(), 0)
    step("wake-up", lambda: ensure_sender_awake())
    polled = step("polling", lambda: poll_once(), 0)
    if prune:
        step("pruning", lambda: prune_task_results())
    return {"recovered": recovered, "polled": polled, "failed": failed}
