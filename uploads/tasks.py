"""Background tasks. Arguments and results are plain JSON values, never secrets."""

from django.db.models import Q
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from . import sending


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
