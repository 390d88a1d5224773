"""The API's tables: personal access tokens, their per-minute request counts, and the
first answers kept for Idempotency-Key retries; and `hash_token`, the one hash of every
token the portal hands out (callback tokens too)."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from .. import locks


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
    def count_in(cls, token, minute):
        """How many requests `token` has made in `minute` (a read: counts nothing)."""
        found = cls.objects.filter(token=token, minute=minute).values_list("count", flat=True)
        return next(iter(found), 0)

    @classmethod
    def count_one(cls, token, minute):
        """Count one more request of `token` in `minute`; how many it has made in it.

        One statement, `UPDATE ... RETURNING` (SQLite and PostgreSQL alike): the row is
        locked while it is changed, so two workers never read the same count, and no
        transaction is held around it. The minute's first request inserts the row (and
        drops the token's earlier minutes). In a create's transaction it is the last
        lock taken (uploads/locks.py).
        """
        locks.took("token_minute", None, token.pk)
        table, value = cls._meta.db_table, connection.ops.adapt_datetimefield_value(minute)
        with connection.cursor() as cursor:
            cursor.execute(
                f'UPDATE {table} SET "count" = "count" + 1 '  # noqa: S608 (names of ours)
                'WHERE "token_id" = %s AND "minute" = %s RETURNING "count"',
                [token.pk, value],
            )
            found = cursor.fetchone()
        if found:
            return found[0]
        try:
            with transaction.atomic():
                cls.objects.create(token=token, minute=minute, count=1)
        except IntegrityError:  # another worker inserted it first
            return cls.count_one(token, minute)
        cls.objects.filter(token=token, minute__lt=minute).delete()
        return 1


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
