import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from uploads import periodic


class Command(BaseCommand):
    help = (
        "Run the portal's periodic work (heartbeat, recovery, polling, pruning) in a loop. "
        "One instance is enough; several are safe."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--interval", type=float, default=settings.PERIODIC_INTERVAL_SECONDS)

    def handle(self, once, interval, **options):
        last_prune = 0.0
        while True:
            close_old_connections()
            periodic.run_once()
            if time.monotonic() - last_prune > 3600:
                call_command("prune_db_task_results", min_age_days=7, verbosity=0)
                last_prune = time.monotonic()
            if once:
                return
            time.sleep(interval)
