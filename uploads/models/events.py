"""A submission's timeline: one Event per move or thing that happened, and one log line each."""

import logging
from functools import partial

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from .statuses import Status


class Event(models.Model):
    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        CLAIMED = "claimed", "Claimed for sending"
        ACCEPTED = "accepted", "Accepted by memories.ai"
        REFUSED = "refused", "Refused by memories.ai"
        RETRY = "retry", "Will retry"
        UNKNOWN = "unknown", "Outcome unknown"
        CALLBACK = "callback", "Callback received"
        POLLED = "polled", "Status polled"
        CANCELLED = "cancelled", "Cancelled"
        ADMIN = "admin", "Admin action"
        MOVED = "moved", "Moved to the front"
        RECOVERED = "recovered", "Recovered"
        NOTE = "note", "Note"

    submission = models.ForeignKey("Submission", on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    from_status = models.CharField(max_length=16, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=Status.choices, blank=True)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    repeat_count = models.PositiveIntegerField(
        default=0, help_text="How many more times the same thing arrived."
    )
    last_repeated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["submission", "created_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.created_at:%Y-%m-%d %H:%M:%S})"

    @property
    def moved(self):
        return self.from_status != self.to_status

    @classmethod
    def create_many(cls, events):
        """Events written at once (a batch's submissions), each logged as one event is."""
        created = cls.objects.bulk_create(events, batch_size=500)
        for event in created:
            _log_once_committed(event)
        return created

    @classmethod
    def count_repeat(cls, submission_id, kind, api_status):
        """Count one more arrival on the latest event of this kind for this status word.

        Returns False when there is no such event. Plain SQL, one statement:
        repeats are most of what memories.ai's callbacks bring. The same statement
        through the ORM (an UPDATE of the row a Subquery picks) missed bench_callbacks.py's
        goal; the figures are in docs/performance.md.
        """
        table = connection.ops.quote_name(cls._meta.db_table)
        if connection.vendor == "postgresql":
            api_status_of = "data ->> 'api_status'"
        else:
            api_status_of = "json_extract(data, '$.api_status')"
        with connection.cursor() as cursor:
            cursor.execute(
                # Only the table name and a fixed expression are interpolated.
                f"UPDATE {table} SET repeat_count = repeat_count + 1, last_repeated_at = %s "  # noqa: S608
                f"WHERE id = (SELECT id FROM {table} WHERE submission_id = %s AND kind = %s "
                f"AND {api_status_of} = %s ORDER BY created_at DESC, id DESC LIMIT 1)",
                [
                    connection.ops.adapt_datetimefield_value(timezone.now()),
                    submission_id,
                    kind,
                    api_status,
                ],
            )
            return cursor.rowcount == 1


events_log = logging.getLogger("uploads.events")
EVENT_LINE = (
    "submission=%(submission)s team=%(team)s kind=%(kind)s from=%(from_status)s to=%(to_status)s"
)


@receiver(post_save, sender=Event, dispatch_uid="uploads.log_event")
def log_event(sender, instance, created, raw=False, **kwargs):
    """One log line per event, in the same shape from web, worker and admin.

    Written once the event is committed, so a rolled-back change logs nothing.
    """
    if created and not raw:
        _log_once_committed(instance)


def _log_once_committed(event):
    fields = {
        "submission": event.submission_id,
        "team": event.submission.team_id,
        "kind": event.kind,
        "from_status": event.from_status,
        "to_status": event.to_status,
    }
    transaction.on_commit(partial(events_log.info, EVENT_LINE, fields, extra=fields))
