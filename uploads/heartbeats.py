"""Each kind of background process says it is alive: one row per kind, written by that
process itself (the models package imports `ProcessBeat` from here).

A worker or `run_periodic` starts a `Heartbeat`: a thread that writes its kind's row
every HEARTBEAT_INTERVAL_SECONDS, so a long task (a batch step, a minute's wait for an
upload slot) never makes a live process look dead. It stops beating when the process's
own work has been stuck in one task or pass for longer than HEALTH_MAX_WORK_SECONDS:
a live thread beside a wedged loop would hide the wedge. `/healthz/workers` reads the
rows (uploads/health.py); several processes of one kind share its row, and the kind is
alive while any of them beats.

The kind is a plain label ("sender", "batches", ...): a process that serves one account
of several may beat as "sender:ACCOUNT" with the same code.
"""

import contextlib
import logging
import os
import socket
import threading
import time

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

logger = logging.getLogger(__name__)

SENDER = "sender"
BATCHES = "batches"
NOTIFICATIONS = "notifications"
PERIODIC = "periodic"
# Every kind /healthz/workers expects to hear from, in the order it lists them.
KINDS = (SENDER, BATCHES, NOTIFICATIONS, PERIODIC)
# Which kind a task worker is, by the queue it serves (uploads/tasks.py names them).
KIND_OF_QUEUE = {"default": SENDER, "batches": BATCHES, "notifications": NOTIFICATIONS}


class ProcessBeat(models.Model):
    """The last sign of life from one kind of process."""

    process = models.CharField(max_length=64, primary_key=True)
    beat_at = models.DateTimeField()
    # Which one beat last, for an operator looking for it.
    host = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(null=True)

    class Meta:
        app_label = "uploads"
        verbose_name = "process heartbeat"

    def __str__(self):
        return self.process


def beat(kind):
    """Write `kind`'s row now."""
    ProcessBeat.objects.update_or_create(
        process=kind,
        defaults={"beat_at": timezone.now(), "host": socket.gethostname(), "pid": os.getpid()},
    )


def kinds_of_queues(queue_names):
    """The kinds a worker serving these queues is ("*" is every queue)."""
    if "*" in queue_names:
        return list(KIND_OF_QUEUE.values())
    return [KIND_OF_QUEUE[name] for name in queue_names if name in KIND_OF_QUEUE]


class Heartbeat:
    """Beats for `kinds` from a thread of this process, while its work is not stuck.

    The process marks its units of work (a task, a periodic pass) with `working()`.
    """

    def __init__(self, kinds):
        self.kinds = list(kinds)
        self.work_started = None  # monotonic time the current unit of work began
        self._stop = threading.Event()
        self._thread = None

    def start(self, thread=True):
        """Beat now (a process that just started is alive), then from a thread unless
        `thread` is false (a run that drains its queue and exits: one beat says it ran)."""
        self.beat_all()
        if thread:
            self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
            self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @contextlib.contextmanager
    def working(self):
        self.work_started = time.monotonic()
        try:
            yield
        finally:
            self.work_started = None

    def stuck_for(self):
        """Seconds the current unit of work has run; 0 between units."""
        started = self.work_started
        return 0.0 if started is None else time.monotonic() - started

    def beat_all(self):
        if self.stuck_for() > settings.HEALTH_MAX_WORK_SECONDS:
            logger.warning(
                "no heartbeat for %s: one unit of work has run %.0f s",
                ", ".join(self.kinds),
                self.stuck_for(),
            )
            return
        try:
            for kind in self.kinds:
                beat(kind)
        except Exception as exc:  # a locked database, a lost connection: next time
            logger.warning("heartbeat of %s not written: %s", ", ".join(self.kinds), exc)
            connection.close()

    def _run(self):
        try:
            while not self._stop.wait(settings.HEARTBEAT_INTERVAL_SECONDS):
                self.beat_all()
        finally:
            connection.close()  # this thread's own connection
