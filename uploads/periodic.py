"""Periodic work: worker heartbeats, recovery of abandoned sends, wake-ups, status polling.

Django's tasks framework has no scheduler; `manage.py run_periodic` calls
`run_once` in a loop. Every step is safe to run in several processes at once
(each change is a conditional UPDATE or a locked transition), so running more
than one instance costs a little work and breaks nothing.
"""

import logging

from django.db.models.functions import Now

from .models import Status, Submission, UploadGate
from .polling import poll_once
from .tasks import request_heartbeat, wake_sender

logger = logging.getLogger(__name__)


def recover_abandoned_sends():
    """Submissions left "sending" past their lease: the worker that claimed them is gone
    or stalled. Each is decided under its row lock (Submission.recover)."""
    stale = Submission.objects.filter(status=Status.SENDING, lease_expires_at__lt=Now())
    return sum(Submission.recover(pk) is not None for pk in stale.values_list("pk", flat=True))


def ensure_sender_awake():
    """A lost wake-up must not strand the queue."""
    gate = UploadGate.get()
    if gate.paused or not Submission.objects.ready_to_send().exists():
        return False
    wake_sender(at=UploadGate.next_slot_at())
    return True


def run_once():
    request_heartbeat()
    recovered = recover_abandoned_sends()
    ensure_sender_awake()
    polled = poll_once()
    return {"recovered": recovered, "polled": polled}
