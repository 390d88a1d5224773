"""Batches ("Submit many") and their rows."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from .teams import Team
from .video_requests import VideoRequest


class Batch(models.Model):
    """Many URLs submitted at once ("Submit many"): checked in the background, queued
    only once the person who submitted them confirms."""

    class State(models.TextChoices):
        CHECKING = "checking", "Checking"
        CHECKED = "checked", "Checked, waiting for confirmation"
        QUEUED = "queued", "Queued"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="batches"
    )
    created_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=255, help_text="“pasted”, or the CSV file's name.")
    # The values given once for every row that has none of its own, as typed.
    shared = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CHECKING)
    row_count = models.PositiveIntegerField(default=0)
    # When the background check last moved on: a check whose worker died is
    # started again by run_periodic once this is old.
    progress_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The person's choices when confirming, recorded on each row queued.
    confirm_public = models.BooleanField(
        default=False, help_text="Rows that could not be reached were confirmed public."
    )
    send_again = models.BooleanField(
        default=False, help_text="URLs the team had already submitted were sent again."
    )
    queued_count = models.PositiveIntegerField(default=0)
    # The API's `"confirm": true`: the ready rows are queued as soon as the check ends.
    confirm_when_checked = models.BooleanField(default=False)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    cancel_finished_at = models.DateTimeField(null=True, blank=True)
    # When its summary email was written (every row final): it is written once.
    summary_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "batches"
        indexes = [models.Index(fields=["created_by", "created_at"], name="batch_creator_created")]

    def __str__(self):
        return f"Batch #{self.pk} ({self.source}, {self.row_count} rows)"

    def get_absolute_url(self):
        return reverse("batch_detail", args=[self.pk])

    @classmethod
    def cancelling(cls, pk):
        """The batch, if a cancel of its waiting submissions was asked for and has not
        finished; else None."""
        return (
            cls.objects.filter(
                pk=pk, cancel_requested_at__isnull=False, cancel_finished_at__isnull=True
            )
            .select_related("cancel_requested_by")
            .first()
        )


class BatchRow(VideoRequest):
    """One line of a batch: what was given, what the checks found, and its submission once queued.

    The VideoRequest fields hold the cleaned values once the row passed the form's rules.
    """

    class State(models.TextChoices):
        NEW = "new", "Not checked yet"
        VALID = "valid", "Checking the link"
        READY = "ready", "Ready"
        UNREACHABLE = "unreachable", "Could not be reached"
        REFUSED = "refused", "Refused"
        REPEATED = "repeated", "Repeated in this batch"
        QUEUED = "queued", "Queued"
        # Confirmed, beyond the person's cap or the team's monthly quota: queued as room frees.
        HELD = "held", "Held"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField(help_text="Its line in the paste or the file.")
    # The form's input for this row: its own values, and the shared ones where it had none.
    given = models.JSONField(default=dict)
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.NEW)
    problem = models.TextField(blank=True, help_text="Why it was refused, or not reached.")
    # The submission of the same URL to the same team that makes this row a duplicate.
    earlier = models.ForeignKey(
        "Submission", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["batch", "line"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "line"], name="one_row_per_batch_line")
        ]
        indexes = [models.Index(fields=["batch", "state", "line"], name="batchrow_state_line")]

    def __str__(self):
        return f"Line {self.line}: {self.given.get('url', '')[:60]}"
