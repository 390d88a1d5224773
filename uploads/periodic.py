"""Periodic work: worker heartbeats, recovery of abandoned sends, wake-ups, status polling.

Django's tasks framework has no scheduler; `manage.py run_periodic` calls
`run_once` in a loop. Every step is safe to run in several processes at once
(each change is a conditional UPDATE or a locked transition), so running more
than one instance costs a little work and breaks nothing.
"""

import logging

from django.utils import timezone

from .models import Event, Status, Submission, TransitionError, UploadGate
from .polling import poll_once
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


def run_once():
    request_heartbeat()
    recovered = recover_abandoned_sends()
    ensure_sender_awake()
    polled = poll_once()
    return {"recovered": recovered, "polled": polled}
