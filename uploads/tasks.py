"""Background tasks. Arguments and results are plain JSON values, never secrets."""

from django.db.models import Q
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from . import sending
from .models import UploadGate


@task()
def send_next_submission():
    """Wake-up: send the next waiting submission, then schedule the next wake-up."""
    outcome, again_at = sending.send_next()
    if again_at is not None:
        wake_sender(at=again_at)
    return outcome


def wake_sender(at=None):
    """Make sure a wake-up of the sender is due at `at` (default: now) or earlier.

    Wake-ups are cheap and idempotent (the gate and the claim decide what is
    sent), so a rare duplicate from a race is harmless; this only keeps a long
    queue from piling up one pending wake-up per submission.
    """
    at = max(at or timezone.now(), timezone.now())
    pending = DBTaskResult.objects.filter(
        task_path=send_next_submission.module_path, status=TaskResultStatus.READY
    ).filter(Q(run_after__lte=at) | Q(run_after=get_date_max()))
    if pending.exists():
        return None
    return send_next_submission.using(run_after=at).enqueue()


@task()
def record_worker_heartbeat():
    """Run by a task worker, so the heartbeat proves a worker is taking tasks."""
    UploadGate.get()
    UploadGate.objects.filter(pk=1).update(worker_heartbeat_at=timezone.now())
    return "ok"


def request_heartbeat():
    """Enqueue a heartbeat unless one is already waiting for a worker."""
    waiting = DBTaskResult.objects.filter(
        task_path=record_worker_heartbeat.module_path, status=TaskResultStatus.READY
    )
    if not waiting.exists():
        record_worker_heartbeat.enqueue()
