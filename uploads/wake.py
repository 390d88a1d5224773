"""Waking a worker: the helpers that make sure a task is due, for the modules below the tasks.

The tasks live in uploads/tasks.py, which imports the work they run (the sender, the
notifications' delivery, the batches' check); the services, the outbox and the batches
that wake them sit below that work. So tasks.py registers its tasks here as it is
imported (`@wake.registered`; AppConfig.ready imports it, in every process), and these
helpers enqueue them by name.
The tasks' paths stay `uploads.tasks.*`: they are stored with every run.
"""

from django.db import transaction
from django.db.models import Q
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

_tasks = {}


def registered(task):
    """Decorates a task of uploads/tasks.py that these helpers enqueue, by its name."""
    _tasks[task.name] = task
    return task


def _task(name):
    try:
        return _tasks[name]
    except KeyError:
        raise LookupError(
            f"No task {name!r} registered: uploads.tasks registers them when it is "
            "imported (AppConfig.ready does so)."
        ) from None


def wake_sender(at=None):
    """Make sure a wake-up of the sender is due at `at` (default: now) or earlier.

    Wake-ups are cheap and idempotent (the gate and the claim decide what is
    sent), so a rare duplicate from a race is harmless; this only keeps a long
    queue from piling up one pending wake-up per submission.
    """
    return due_by(_task("send_next_submission"), at)


def wake_notifier(at=None):
    """Make sure a run of deliver_notifications is due at `at` (default: now) or earlier."""
    return due_by(_task("deliver_notifications"), at)


def start_batch_check(batch_id):
    """Make sure a step of this batch's check is waiting for the batches worker."""
    enqueue_once(_task("check_batch"), batch_id=batch_id)


def start_batch_cancel(batch_id):
    enqueue_once(_task("cancel_batch"), batch_id=batch_id)


def start_bulk(action, user_id, ids):
    """Act on many submissions of the list (uploads/bulk.py) on the batches queue, once
    the request's transaction commits."""
    bulk_act = _task("bulk_act")
    transaction.on_commit(lambda: bulk_act.enqueue(action=action, user_id=user_id, ids=ids))


def due_by(task, at=None):
    """Enqueue `task` to run at `at` (default: now) unless a run is waiting for then or earlier."""
    at = max(at or timezone.now(), timezone.now())
    if waiting(task).filter(Q(run_after__lte=at) | Q(run_after=get_date_max())).exists():
        return None
    return task.using(run_after=at).enqueue()


def enqueue_once(task, **kwargs):
    """Enqueue `task` with these keyword arguments unless a run with them is waiting."""
    runs = waiting(task).filter(
        **{f"args_kwargs__kwargs__{name}": value for name, value in kwargs.items()}
    )
    if not runs.exists():
        task.enqueue(**kwargs)


def waiting(task):
    """This task's enqueued runs that no worker has started yet."""
    return DBTaskResult.objects.filter(task_path=task.module_path, status=TaskResultStatus.READY)
