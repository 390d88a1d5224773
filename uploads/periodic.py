"""Periodic work: recovery of abandoned sends, held work let into the queue as room frees,
wake-ups, status polling (each account in a thread of its own), batch checks and cancels
whose worker died, and notifications (daily digests, the needs-review alert, batch
summaries, redelivery of what a killed worker left).

Django's tasks framework has no scheduler; `manage.py run_periodic` calls
`run_once` in a loop. Every step is safe to run in several processes at once
(each change is a conditional UPDATE or a locked transition), so running more
than one instance costs a little work and breaks nothing. Each step runs on its
own: one that fails (a locked database, a lost connection) is logged, and the
others still run.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.db.models.functions import Now
from django.utils import timezone

from .batches.service import restart_stalled, resume_stalled_cancels
from .models import Batch, Notice, Status, Submission
from .notifications import alerts, delivery, digest
from .resilience import TRANSIENT_DB_ERRORS, reset_connections
from .sending.admission import release_held
from .sending.polling import poll_each_account
from .sending.sender import next_wake_at
from .wake import start_batch_check, wake_notifier, wake_sender

logger = logging.getLogger(__name__)


def recover_abandoned_sends():
    """Submissions left "sending" past their lease: the worker that claimed them is gone
    or stalled. Each is decided under its row lock (Submission.recover)."""
    stale = Submission.objects.filter(status=Status.SENDING, lease_expires_at__lt=Now())
    return sum(Submission.recover(pk) is not None for pk in stale.values_list("pk", flat=True))


def ensure_sender_awake():
    """A lost wake-up must not strand the queue."""
    at = next_wake_at()
    if at is None:
        return False
    wake_sender(at=at)
    return True


def restart_stalled_batch_checks():
    """Batch checks whose worker died: a step of each is queued again; rows already checked
    are not checked again."""
    return restart_stalled(Batch.objects.filter(state=Batch.State.CHECKING), start_batch_check)


def ensure_notifier_awake():
    """Notifications due (a retry's time came, or a killed worker's lease ran out) get a
    worker's run, even if the wake-up was lost."""
    if delivery.due().exists():
        wake_notifier()
        return True
    return False


def prune_task_results():
    """Task results older than a week go (the worker keeps one per task run)."""
    call_command("prune_db_task_results", min_age_days=7, verbosity=0)


def prune_old_notices():
    """Notifications that are done with (sent, given up, dropped, in a digest) go after
    NOTIFY_KEEP_DAYS; those still to send stay, whatever their age."""
    cutoff = timezone.now() - timedelta(days=settings.NOTIFY_KEEP_DAYS)
    done = [Notice.State.SENT, Notice.State.FAILED, Notice.State.DROPPED, Notice.State.IN_DIGEST]
    return Notice.objects.filter(state__in=done, created_at__lt=cutoff).delete()[0]


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

    recovered = step("recovery", recover_abandoned_sends, 0)
    released = step("held work", release_held, 0)
    step("wake-up", ensure_sender_awake)
    polled = step("polling", poll_each_account, 0)
    step("batch checks", restart_stalled_batch_checks)
    step("batch cancels", resume_stalled_cancels)
    step("batch summaries", alerts.finish_batches)
    step("review alert", alerts.check_review_pile)
    step("digests", digest.send_due_digests)
    step("notifications", ensure_notifier_awake)
    if prune:
        step("pruning", prune_task_results)
        step("old notifications", prune_old_notices)
    return {"recovered": recovered, "released": released, "polled": polled, "failed": failed}
