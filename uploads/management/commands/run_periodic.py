import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from uploads import heartbeats, periodic
from uploads.resilience import TRANSIENT_DB_ERRORS, backoff

logger = logging.getLogger("uploads.periodic")

PRUNE_EVERY_SECONDS = 3600


class Command(BaseCommand):
    help = (
        "Run the portal's periodic work (heartbeat, recovery, polling, pruning) in a loop. "
        "One instance is enough; several are safe. A step that fails is logged and tried "
        "again on the next pass, which comes sooner, then later (backoff), until all work."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--interval", type=float, default=settings.PERIODIC_INTERVAL_SECONDS)

    def handle(self, once, interval, **options):
        heartbeat = heartbeats.Heartbeat([heartbeats.PERIODIC]).start(thread=not once)
        try:
            return self.loop(once, interval, heartbeat)
        finally:
            heartbeat.stop()

    def loop(self, once, interval, heartbeat):
        last_prune = None
        failing_passes = 0
        while True:
            try:
                # Drops a connection that broke or outlived CONN_MAX_AGE, as a request would.
                close_old_connections()
            except TRANSIENT_DB_ERRORS as exc:
                logger.warning("periodic pass: a database connection would not close: %s", exc)
            prune = last_prune is None or time.monotonic() - last_prune > PRUNE_EVERY_SECONDS
            with heartbeat.working():
                outcome = periodic.run_once(prune=prune)
            failed = outcome["failed"]
            if prune and "pruning" not in failed:
                last_prune = time.monotonic()
            if once:
                if failed:
                    raise CommandError(f"These periodic steps failed: {', '.join(failed)}.")
                return
            if failed:
                failing_passes += 1
                delay = backoff(failing_passes)
                logger.warning(
                    "periodic pass %d in a row with failed steps (%s); next pass in %.1f s",
                    failing_passes,
                    ", ".join(failed),
                    delay,
                )
            else:
                if failing_passes:
                    logger.info("periodic pass: every step worked again")
                failing_passes = 0
                delay = interval
            time.sleep(delay)
