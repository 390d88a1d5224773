"""Background tasks. Arguments and results are plain JSON values, never secrets.

A transient database error (a locked SQLite file, a lost connection) is logged
and the task tried again with backoff (uploads/resilience.py) rather than failed.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from . import bulk, wake
from .batches import checking
from .batches import service as batches
from .models import MemoriesAccount
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


# --- Test connection of a memories.ai account, off the admin's request ------------------
# On the notifications queue: a check may wait out memories.ai's answer (up to the read
# timeout) and must never take a turn of the sender's queue.
CONNECTION_CHECK_STALE = timedelta(minutes=10)


@task(queue_name=NOTIFICATIONS_QUEUE)
@retry_database_errors
def check_connection(account_id):
    """Test connection of a memories.ai account: a list_videos request, never an upload.
    Its argument is the account's id, never a key; its result, whether it worked and what
    memories.ai said (the key by its last four characters at most), is what the admin shows."""
    account = MemoriesAccount.objects.filter(pk=account_id).first()
    if account is None:
        return {"ok": False, "said": "The account no longer exists."}
    works, said = sending.test_connection(account)
    return {"ok": works, "said": said}


def start_connection_check(account_id):
    """Queue a check of the account's connection, unless one is already waiting."""
    transaction.on_commit(lambda: wake.enqueue_once(check_connection, account_id=account_id))


def connection_check(account_id):
    """The account's latest connection check, for the admin: ("checking", enqueued at),
    ("ok" or "failed", finished at, what memories.ai said), ("lost", enqueued at) for one
    that never finished, or None (never checked, or over a week ago: results are pruned)."""
    run = (
        DBTaskResult.objects.filter(
            task_path=check_connection.module_path, args_kwargs__kwargs__account_id=account_id
        )
        .order_by("-enqueued_at")
        .first()
    )
    if run is None:
        return None
    if run.status in (TaskResultStatus.READY, TaskResultStatus.RUNNING):
        if timezone.now() - run.enqueued_at > CONNECTION_CHECK_STALE:
            return ("lost", run.enqueued_at, "")
        return ("checking", run.enqueued_at, "")
    value = run.return_value if isinstance(run.return_value, dict) else {}
    if run.status == TaskResultStatus.SUCCESSFUL and value:
        return ("ok" if value.get("ok") else "failed", run.finished_at, str(value.get("said")))
    return (
        "failed",
        run.finished_at,
        "The check itself failed: see the notifications worker's log.",
    )
