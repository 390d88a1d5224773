"""`manage.py db_worker`: django-tasks-db's worker, kept running through database errors.

django-tasks-db's loop opens its claiming transaction (`BEGIN EXCLUSIVE` on
SQLite) outside its own error handling, and lets any error but "locked" out of
the claim, and any error out of recording a task's result: a SQLite write lock
held past the timeout, or a lost PostgreSQL connection, ended the process and
left the queue without a sender. This command has the same options and runs
the same loop; when the loop stops with a transient database error it logs it,
drops the broken connection, waits (DB_RETRY_BASE_SECONDS doubling to
DB_RETRY_MAX_SECONDS, back to the start once it has run a minute) and goes on.

It takes the place of django-tasks-db's command because `uploads` comes before
`django_tasks_db` in INSTALLED_APPS; the Procfile and `make run` are unchanged.

The worker of the batches queue (`--queue-name batches`) lowers its own CPU priority
(BATCH_WORKER_NICENESS): it shares the cores with the sender and the web, and a batch's
check can wait a moment where an upload slot cannot.

Each worker beats for the kind of process it is, by the queues it serves (sender,
batches, notifications: uploads/heartbeats.py), from a thread of its own.
"""

import logging
import os
import time

from django_tasks_db.management.commands import db_worker

from uploads import heartbeats
from uploads.resilience import TRANSIENT_DB_ERRORS, backoff, reset_connections
from uploads.tasks import BATCH_QUEUE

logger = logging.getLogger("django_tasks_db")

# A loop that ran this long before failing starts its backoff from the beginning.
STABLE_SECONDS = 60.0
BATCH_WORKER_NICENESS = 10


class Worker(db_worker.Worker):
    def run(self):
        self.heartbeat = heartbeats.Heartbeat(heartbeats.kinds_of_queues(self.queue_names))
        self.heartbeat.start(thread=not self.batch)
        try:
            return self.run_carrying_on()
        finally:
            self.heartbeat.stop()

    def run_task(self, db_task_result):
        with self.heartbeat.working():
            return super().run_task(db_task_result)

    def run_carrying_on(self):
        failures = 0
        while self.running:
            started = time.monotonic()
            try:
                return super().run()
            except TRANSIENT_DB_ERRORS as exc:
                failures = 1 if time.monotonic() - started > STABLE_SECONDS else failures + 1
                delay = backoff(failures)
                logger.warning(
                    "worker_id=%s: database error, carrying on in %.1f s: %s",
                    self.worker_id,
                    delay,
                    exc,
                )
                reset_connections()
                self.startup_delay = False
                time.sleep(delay)
        return None


class Command(db_worker.Command):
    help = db_worker.Command.help + ", carrying on through database errors"
    # A worker serves no pages: Django's start-up checks would import every URL and view
    # (the API's REST framework among them, about 0.3 s) before it takes its first task,
    # and a woken worker is on its way to an upload slot. `manage.py check` still checks.
    requires_system_checks = []

    def handle(self, *args, **options):
        if options.get("queue_name") == BATCH_QUEUE:
            os.nice(max(BATCH_WORKER_NICENESS - os.nice(0), 0))
        # The parent builds its Worker by name from its module: swap ours in for the call.
        original = db_worker.Worker
        db_worker.Worker = Worker
        try:
            return super().handle(*args, **options)
        finally:
            db_worker.Worker = original
