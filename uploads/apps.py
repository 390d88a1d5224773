from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_counters(sender, using, **kwargs):
    from django.db import connections

    from . import counters

    counters.ensure(connections[using])


class UploadsConfig(AppConfig):
    name = "uploads"
    verbose_name = "Uploads"

    def ready(self):
        # A migration that rebuilds the submissions table (SQLite) drops its triggers.
        post_migrate.connect(_ensure_counters, sender=self, dispatch_uid="uploads.counters")
        # Batches' held rows join the queue as room frees (admission.release_held).
        from .batches import service  # noqa: F401
