"""The API's tables: personal access tokens, their per-minute request counts, and the
first answers kept for Idempotency-Key retries. Imported by uploads/models.py."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from .models import hash_token

# last_used_at is written at most this often per token: a script's every request
# would otherwise be a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiToken(models.Model):
    """A person's key to the API: it acts as that person within their teams, with its scopes.

    Only the SHA-256 of the secret is stored; the secret is shown once, when made.
    """

    class Scope(models.TextChoices):
        READ = "read", "Read: see submissions, batches and teams"
        SUBMIT = "submit", "Submit: create and cancel submissions and batches"

    # Tokens start with this, so that one pasted where it should not be is recognised.
    PREFIX = "mpt_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What it is for, e.g. “camera pipeline”.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The secret's first characters, to tell one's tokens apart (never enough to use one).
    prefix = models.CharField(max_length=12, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.name} ({self.prefix}…, {self.user})"

    @classmethod
    def issue(cls, user, *, name, scopes, expires_at=None):
        """A new token for `user`: (the ApiToken, its secret, to be shown once)."""
        secret = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            token_hash=hash_token(secret),
            prefix=secret[: len(cls.PREFIX) + 4],
            scopes=sorted(set(scopes)),
            expires_at=expires_at,
        )
        return token, secret

    @classmethod
    def usable(cls):
        """Tokens that authenticate now: not revoked, not expired, their user active."""
        return cls.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=Now()),
            revoked_at__isnull=True,
            user__is_active=True,
        )

    @classmethod
    def find(cls, secret):
        """The usable token whose secret this is, with its user; None otherwise."""
        return cls.usable().select_related("user").filter(token_hash=hash_token(secret)).first()

    @property
    def state(self):
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"

    def revoke(self):
        """Revoked from now on; False if it was already."""
        return bool(
            ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=Now())
        )

    def mark_used(self):
        now = timezone.now()
        if self.last_used_at and now - self.last_used_at < LAST_USED_RESOLUTION:
            return
        ApiToken.objects.filter(pk=self.pk).update(last_used_at=now)
        self.last_used_at = now


class TokenMinute(models.Model):
    """How many requests a token made in one minute (uploads/api/throttling.py)."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "minute"], name="one_count_per_token_minute")
        ]

    def __str__(self):
        return f"{self.count} requests at {self.minute:%H:%M}"

    @classmethod
    def count_one(cls, token, minute):
        """Count one more request of `token` in `minute`; how many it has made in it.

        The increment is an UPDATE (the row stays locked to the end of the transaction,
        so two workers cannot read the same count); the minute's first request inserts
        the row, and drops the token's earlier minutes.
        """
        this_minute = cls.objects.filter(token=token, minute=minute)
        with transaction.atomic():
            if not this_minute.update(count=F("count") + 1):
                try:
                    with transaction.atomic():
                        cls.objects.create(token=token, minute=minute, count=1)
                except IntegrityError:  # another worker inserted it first
                    this_minute.update(count=F("count") + 1)
                else:
                    cls.objects.filter(token=token, minute__lt=minute).delete()
                    return 1
            return this_minute.values_list("count", flat=True).get()


class IdempotencyKey(models.Model):
    """A create's Idempotency-Key and its first answer, replayed to a retry.

    The unique constraint is the guard: the key is inserted in the transaction that
    makes the submission or batch, so of two requests with one key only one commits.
    """

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # SHA-256 of the request (path and body): the same key with another body is refused.
    request_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(default=0)
    response = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="one_result_per_idempotency_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self):
        return f"Idempotency-Key {self.key[:40]} ({self.status_code})"
