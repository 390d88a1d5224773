"""The notifications' tables: team webhook endpoints, the outbox (Notice), alert episodes."""

import base64
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class Topic(models.TextChoices):
    """What a notification is about; a webhook's `type`."""

    DONE = "submission.done", "Done"
    PARSE_ERROR = "submission.processing_failed", "Processing failed"
    FAILED = "submission.failed", "Failed"
    NEEDS_REVIEW = "submission.needs_review", "Needs review"
    BATCH_FINISHED = "batch.finished", "Batch finished"
    DIGEST = "digest", "Daily digest"
    SENDING_PAUSED = "sending.paused", "Sending paused"
    REVIEW_PILING_UP = "review.piling_up", "Needs review building up"
    ENDPOINT_DISABLED = "endpoint.disabled", "Webhook endpoint disabled"
    TEST = "test", "Test event"


# The events a team's endpoint may choose.
WEBHOOK_TOPICS = (
    Topic.DONE,
    Topic.PARSE_ERROR,
    Topic.FAILED,
    Topic.NEEDS_REVIEW,
    Topic.BATCH_FINISHED,
)


def new_webhook_secret():
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_message_id():
    return "msg_" + secrets.token_urlsafe(18)


class WebhookEndpoint(models.Model):
    class Format(models.TextChoices):
        JSON = "json", "JSON (type, timestamp, data)"
        SLACK = "slack", 'Slack-compatible ({"text": ...})'

    team = models.ForeignKey("uploads.Team", on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField("URL", max_length=2048)
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.JSON)
    topics = models.JSONField("events", default=list)
    # Needed in clear to sign each delivery; shown to the manager once, when created.
    secret = models.CharField(max_length=64, default=new_webhook_secret, editable=False)
    is_active = models.BooleanField("enabled", default=True)
    disabled_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["team", "pk"]
        verbose_name = "webhook endpoint"

    def __str__(self):
        return f"{self.team}: {self.url[:60]}"

    def get_absolute_url(self):
        return reverse("webhook_detail", args=[self.team.slug, self.pk])

    def wants(self, topic):
        return topic == Topic.TEST or topic in self.topics


class Notice(models.Model):
    """One notification to one recipient (a person's email, or a team's endpoint): the outbox.

    Written in the same transaction as the change that causes it, then sent by the
    notifications worker. A worker claims a row for `lease_until`; one killed while
    sending leaves the lease to run out and the row is claimed again (`uid`, the
    webhook-id, stays the same, so receivers can drop a repeat).
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class State(models.TextChoices):
        PENDING = "pending", "To send"
        DIGEST = "digest", "Waiting for the daily digest"
        IN_DIGEST = "in_digest", "Sent in a digest"
        SENT = "sent", "Sent"
        FAILED = "failed", "Given up"
        DROPPED = "dropped", "Not sent (turned off meanwhile)"

    uid = models.CharField("webhook-id", max_length=40, unique=True, default=new_message_id)
    topic = models.CharField(max_length=32, choices=Topic.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notices",
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, null=True, blank=True, related_name="notices"
    )
    submission = models.ForeignKey(
        "uploads.Submission", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    batch = models.ForeignKey(
        "uploads.Batch", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # What was true when it was written (status, message, names, reason): plain JSON.
    facts = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(default=timezone.now)
    lease_until = models.DateTimeField(null=True, blank=True)
    # One more at each claim: finishing is conditional on it (a claim taken over changes nothing).
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField("time taken (ms)", null=True, blank=True)
    last_error = models.TextField(blank=True)
    # A digest email: the person's day (in their zone) it is for; one per person and day.
    digest_day = models.DateField(null=True, blank=True)
    digest = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="items"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["due_at", "id"], condition=Q(state="pending"), name="notice_due"),
            # Each lane of the worker takes its own channel's due rows, oldest first,
            # without reading past the other's (uploads/notifications/delivery.py).
            models.Index(
                fields=["channel", "due_at", "id"],
                condition=Q(state="pending"),
                name="notice_due_by_channel",
            ),
            models.Index(fields=["endpoint", "created_at"], name="notice_endpoint_log"),
            models.Index(
                fields=["recipient", "created_at"],
                condition=Q(state="digest"),
                name="notice_digest_waiting",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "digest_day"],
                condition=Q(digest_day__isnull=False),
                name="one_digest_per_person_and_day",
            )
        ]

    def __str__(self):
        return f"{self.get_topic_display()} → {self.recipient or self.endpoint}"


class AlertEpisode(models.Model):
    """A condition superusers are told about once each time it begins (sending paused,
    needs review building up): `active` from its start until it clears."""

    class Kind(models.TextChoices):
        SENDING_PAUSED = "sending_paused", "Sending paused"
        REVIEW_PILING_UP = "review_piling_up", "Needs review building up"

    kind = models.CharField(max_length=32, choices=Kind.choices, unique=True)
    active = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.get_kind_display()}: {'on' if self.active else 'off'}"

    @classmethod
    def begin(cls, kind):
        """True only for the call that starts an episode (a conditional UPDATE decides)."""
        cls.objects.get_or_create(kind=kind)
        return bool(
            cls.objects.filter(kind=kind, active=False).update(
                active=True, started_at=timezone.now(), ended_at=None
            )
        )

    @classmethod
    def end(cls, kind):
        cls.objects.filter(kind=kind, active=True).update(active=False, ended_at=timezone.now())
