"""Background tasks. Arguments and results are plain JSON values, never secrets.

A transient database error (a locked SQLite file, a lost connection) is logged
and the task tried again with backoff (uploads/resilience.py) rather than failed.
"""

from datetime import timedelta

from django.conf import settings
from django.tasks import task

from . import bulk, wake
from .batches import checking
from .batches import service as batches
from .notifications import delivery
from .resilience import retry_database_errors
from .sending import sender as sending

# The wake-up helpers live in uploads/wake.py, for the modules below this one; these
# names stay for the callers that import them from here.
from .wake import (  # noqa: F401
    start_batch_cancel,
    start_batch_check,
    start_bulk,
    waiting,
    wake_notifier,
    wake_sender,
)

# The tasks marked @wake.registered are the ones uploads/wake.py's helpers enqueue.

# Batches are checked (and cancelled) on a queue of their own, by a worker of their
# own (`db_worker --queue-name batches`): the sender never waits behind their checks.
BATCH_QUEUE = "batches"
# Emails and webhooks too (`db_worker --queue-name notifications`): a slow mail server
# or receiver never delays a send.
NOTIFICATIONS_QUEUE = "notifications"


@wake.registered
@task()
@retry_database_errors
def send_next_submission():
    """Wake-up: send the next waiting submission, then schedule the next wake-up."""
    # Once this run has claimed a send, another worker is woken for the next slot of
    # any account: this one's request, however slow, holds no other account's turn.
    outcome, again_at = sending.send_next(after_claim=_wake_early)
    _wake_early(again_at)
    return outcome


def _wake_early(at):
    """A wake-up for a slot that opens at `at` (None: nothing to wake up for)."""
    if at is not None:
        # Early: the task waits for the slot's last moments itself (SEND_HOLD_SECONDS).
        wake_sender(at=at - timedelta(seconds=settings.SEND_HOLD_SECONDS))


@task()
def record_worker_heartbeat():
    """Kept so that runs enqueued before each process beat for itself still finish:
    heartbeats are written by the processes now (uploads/heartbeats.py)."""
    return "ok"


@wake.registered
@task(queue_name=BATCH_QUEUE)
@retry_database_errors
def check_batch(batch_id):
    """One step of a batch's check; the next is queued behind whatever else waits there."""
    if checking.check_step(batch_id):
        start_batch_check(batch_id)
        return "more to check"
    if batches.confirm_if_asked(batch_id):
        return "checked and queued"
    return "checked"


@wake.registered
@task(queue_name=BATCH_QUEUE)
@retry_database_errors
def cancel_batch(batch_id):
    """Cancel the batch's waiting submissions, one by one through their transition."""
    return batches.cancel_waiting(batch_id)


@wake.registered
@task(queue_name=BATCH_QUEUE)
@retry_database_errors
def bulk_act(action, user_id, ids):
    """Cancel (or move to the front) the submissions a person chose on the list, each
    checked and changed as the single action does it: many rows, off the request."""
    changed, left = bulk.act_for(user_id, action, ids)
    return f"{changed} changed, {left} left as they were"


@wake.registered
@task(queue_name=NOTIFICATIONS_QUEUE)
@retry_database_errors
def deliver_notifications():
    """Send what the outbox holds that is due; come back when the next retry is due."""
    handled = delivery.deliver_due()
    if delivery.due().exists():
        wake_notifier()
    elif (at := delivery.next_due_at()) is not None:
        wake_notifier(at=at)
    return f"{handled} handled"
