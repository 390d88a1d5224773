"""memories.ai accounts: an address, a key, and the rate each takes uploads at."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from encrypted_fields.fields import EncryptedCharField


class MemoriesAccount(models.Model):
    """A memories.ai account: its address, its key, and the rate it takes uploads at.

    memories.ai limits uploads per account, so each account has a gate of its own
    (UploadGate) and teams on different accounts send in parallel. An empty address,
    key or rate means the settings' (MEMORIES_API_BASE_URL, MEMORIES_API_KEY or the
    sandbox, MEMORIES_UPLOADS_PER_MINUTE): the "default" account an existing
    installation was given follows them.
    """

    DEFAULT_NAME = "default"

    name = models.CharField(max_length=80, unique=True)
    api_base_url = models.CharField(
        "API address",
        max_length=200,
        blank=True,
        help_text="Empty: MEMORIES_API_BASE_URL (https://api.memories.ai unless set otherwise).",
    )
    # Encrypted at rest with FIELD_ENCRYPTION_KEY (docs/configuration.md); never shown
    # whole: pages and the admin show `key_hint`.
    api_key = EncryptedCharField(
        "API key", max_length=400, blank=True, null=True, help_text="Empty: MEMORIES_API_KEY."
    )
    second_api_key = EncryptedCharField(
        "second API key",
        max_length=400,
        blank=True,
        null=True,  # the field stores an empty key as NULL
        help_text="For rotation without downtime: when memories.ai refuses the key (0401), "
        "the account moves to this one and goes on sending.",
    )
    uploads_per_minute = models.FloatField(
        null=True,
        blank=True,
        default=1.0,
        help_text="How many uploads memories.ai takes from this account a minute. "
        "Empty: MEMORIES_UPLOADS_PER_MINUTE.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "memories.ai account"

    def __str__(self):
        return self.name

    def clean(self):
        if self.uploads_per_minute is not None and self.uploads_per_minute <= 0:
            raise ValidationError(
                {"uploads_per_minute": "Give a number above 0, or leave it empty."}
            )
        if self.api_base_url:
            parts = urlsplit(self.api_base_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValidationError(
                    {"api_base_url": "Give an http(s) address with a host name, or leave it empty."}
                )

    @classmethod
    def default(cls):
        """The account teams are put on unless told otherwise (made on first use)."""
        account, _ = cls.objects.get_or_create(
            name=cls.DEFAULT_NAME, defaults={"uploads_per_minute": None}
        )
        return account

    def base_url(self):
        return self.api_base_url or settings.MEMORIES_API_BASE_URL

    def key(self):
        """The key to send with ("" when none is set)."""
        if self.api_key:
            return self.api_key
        if settings.MEMORIES_API_KEY:
            return settings.MEMORIES_API_KEY
        return settings.MEMORIES_SANDBOX_KEY if settings.MEMORIES_SANDBOX else ""

    def per_minute(self):
        return self.uploads_per_minute or settings.MEMORIES_UPLOADS_PER_MINUTE

    @property
    def key_hint(self):
        """All that is ever shown of a key: its last four characters."""
        return hint(self.key())

    @property
    def second_key_hint(self):
        return hint(self.second_api_key)

    def use_second_key(self):
        """The first key was refused: the second takes its place. False when there is none
        (or another process switched already)."""
        if not self.second_api_key:
            return False
        refused, self.api_key, self.second_api_key = self.api_key, self.second_api_key, None
        # Only if the row still holds the refused key: two workers do not switch twice.
        current = MemoriesAccount.objects.filter(pk=self.pk).first()
        if current is None or current.api_key != refused:
            self.refresh_from_db()
            return bool(current)
        self.save(update_fields=["api_key", "second_api_key"])
        return True


def hint(key):
    """A key as pages show it: its last four characters, or "(none)"."""
    return f"…{key[-4:]}" if key else "(none)"
