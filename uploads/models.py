"""Teams, submissions and their timeline.

Every change of a submission's status goes through one method here, inside a
transaction, refusing a move from the wrong state and writing one event.
"""

import logging
import secrets
import time
import zoneinfo
from datetime import UTC, datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import F, FloatField, Func, Min, Q
from django.db.models.functions import Greatest, Now
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from encrypted_fields.fields import EncryptedCharField

from . import locks

# Each kind of background process's last sign of life, in a module of its own.
from .heartbeats import ProcessBeat  # noqa: F401

# The API's tables (tokens, request counts, idempotency keys) and the hash of every
# token the portal hands out, in a module of their own.
from .tokens import ApiToken, IdempotencyKey, TokenMinute, hash_token  # noqa: F401
from .urlcheck import identity


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


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)
    unique_id = models.CharField(
        "memories.ai scope",
        max_length=128,
        unique=True,
        help_text="The memories.ai unique_id this team's uploads go to. "
        "It cannot change once a submission has been sent with it.",
    )
    large_files_allowed = models.BooleanField(
        "large-file permission",
        default=False,
        help_text="memories.ai has granted this account uploads over 1 GB.",
    )
    is_active = models.BooleanField(default=True)
    # The memories.ai account this team's uploads go through (its gate, its pace).
    account = models.ForeignKey(
        MemoriesAccount,
        on_delete=models.PROTECT,
        related_name="teams",
        verbose_name="memories.ai account",
    )
    max_waiting_per_person = models.PositiveIntegerField(
        "most waiting per person",
        null=True,
        blank=True,
        help_text="How many submissions one person may have waiting in this team. "
        "Empty: MAX_WAITING_PER_PERSON (2,000 unless set otherwise).",
    )
    monthly_quota = models.PositiveIntegerField(
        "uploads a month",
        null=True,
        blank=True,
        help_text="How many submissions this team may queue each calendar month (in the "
        "portal's time zone); one cancelled before it is sent is given back. Empty: no limit.",
    )
    # When this team's last upload was claimed: the queue takes turns between
    # teams, starting with the one served longest ago.
    last_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = slugify(self.name)[:120]
        if not self.unique_id:
            self.unique_id = self.slug
        if self.account_id is None:
            self.account = MemoriesAccount.default()
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        # The team's dashboard; the admin's "View on site" links here too.
        return reverse("team_dashboard", args=[self.slug])

    def clean(self):
        if self.pk and self.unique_id:
            old = Team.objects.filter(pk=self.pk).values_list("unique_id", flat=True).first()
            if old and old != self.unique_id and self.submissions.filter(unique_id=old).exists():
                raise ValidationError(
                    {
                        "unique_id": f"Submissions were already sent to “{old}”; "
                        "the scope cannot change any more."
                    }
                )


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        MANAGER = "manager", "Manager"
        # Sees what a member sees (lists, dashboards, the CSV, the API's reads) and
        # changes nothing: no submitting, cancelling, confirming, webhooks or submit tokens.
        VIEWER = "viewer", "Viewer (read only)"

    class Source(models.TextChoices):
        BY_HAND = "by_hand", "By hand"
        # Made by the sign-in from the identity provider's groups (GroupMapping): each
        # sign-in brings these in line with the groups, and leaves the others alone
        # unless OIDC_GROUPS_ARE_AUTHORITATIVE.
        GROUPS = "groups", "From the identity provider's groups"

    # The roles that may change something in a team (everything but viewer).
    WRITING_ROLES = (Role.MEMBER, Role.MANAGER)

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    source = models.CharField(
        max_length=16, choices=Source.choices, default=Source.BY_HAND, editable=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")
        ]

    def __str__(self):
        return f"{self.user} in {self.team} ({self.get_role_display()})"


class GroupMapping(models.Model):
    """A group of the identity provider (a value of its groups claim) and what it gives in
    the portal: a role in a team. Superusers keep these in the admin (or `map_group`)."""

    group = models.CharField(
        max_length=255, help_text="A value of the groups claim, exactly as the provider sends it."
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="group_mappings")
    role = models.CharField(max_length=16, choices=Membership.Role.choices)

    class Meta:
        ordering = ["group", "team__name"]
        constraints = [
            models.UniqueConstraint(fields=["group", "team"], name="one_mapping_per_group_and_team")
        ]

    def __str__(self):
        return f"{self.group} → {self.team} ({self.get_role_display()})"


class PersonSettings(models.Model):
    """What one person chose for themselves: the time zone their pages and emails use,
    and which emails they get. A person who never saved any has the defaults
    (`PersonSettings.of`), so nothing needs a row to exist."""

    class Done(models.TextChoices):
        AT_ONCE = "at_once", "At once, one email each"
        DIGEST = "digest", "In a daily digest at 08:00"
        NEVER = "never", "Not at all"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="person_settings"
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        help_text="An IANA time zone name, such as Europe/Paris. Empty: the portal's TIME_ZONE.",
    )
    email_problems = models.BooleanField(
        "email me at once when an upload fails or needs review",
        default=True,
        help_text="Failed, processing failed and needs review.",
    )
    email_done = models.CharField(
        "when an upload is done",
        max_length=16,
        choices=Done.choices,
        default=Done.DIGEST,
    )
    email_alerts = models.BooleanField(
        "email me about the portal's own problems",
        default=True,
        help_text="For superusers: sending paused, needs review building up. "
        "For team managers: a webhook endpoint disabled after a day of failures.",
    )
    # Signed into every unsubscribe link (uploads/notifications/email.py); a change of the
    # person's email choices moves it on, and the links of earlier emails stop working.
    unsubscribe_version = models.PositiveIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "person's settings"
        verbose_name_plural = "people's settings"

    def __str__(self):
        return f"Settings of {self.user}"

    @classmethod
    def of(cls, user):
        """The person's settings, or the defaults (unsaved) if they never chose any."""
        try:
            return user.person_settings
        except cls.DoesNotExist:
            return cls(user=user)

    @classmethod
    def of_id(cls, user_id):
        """`of`, by the person's id, for code that has no user row at hand."""
        return cls.objects.filter(user_id=user_id).first() or cls(user_id=user_id)

    @property
    def zone(self):
        """The time zone this person's times are shown in."""
        return zoneinfo.ZoneInfo(self.time_zone or settings.TIME_ZONE)


class Lane(models.Model):
    """One person's line in one team: how many of theirs wait, and when their turn last came.

    The counts are kept by the database itself (triggers on the submissions
    table, `uploads/counters.py`), whatever writes a submission: places in the
    queue are computed from these few rows, never by counting the queue.
    `last_turn` is the team's turn number at this person's last send: within a
    team, turns go round its people, the one served longest ago first.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="lanes")
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lanes"
    )
    # Waiting in this person's own turns, and waiting moved to the team's front.
    waiting = models.IntegerField(default=0)
    fronted = models.IntegerField(default=0)
    last_turn = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "submitter"], name="one_lane_per_person")
        ]

    def __str__(self):
        return f"{self.submitter_id} in {self.team_id}: {self.waiting} waiting"

    @property
    def queued(self):
        return self.waiting + self.fronted


class Tally(models.Model):
    """How many submissions of one person in one team have each status.

    Kept by the database (triggers, `uploads/counters.py`) like the lanes'
    counts: the dashboards' counts by status and per member read these few
    rows, whatever the length of the history.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=16)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "submitter", "status"], name="one_tally_per_status"
            )
        ]

    def __str__(self):
        return f"{self.submitter_id} in {self.team_id}: {self.n} {self.status}"


class Tag(models.Model):
    """One tag of one submission, in lower case: the list's tag filter reads these.

    Kept by the database from `Submission.tags` (triggers, uploads/counters.py).
    """

    submission = models.ForeignKey("Submission", on_delete=models.CASCADE, related_name="+")
    name = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["submission", "name"], name="one_tag_per_name")
        ]

    def __str__(self):
        return self.name


class QuotaMonth(models.Model):
    """A team's uploads counted in one month (the portal's time zone): the quota's counter.

    Taken under its row lock (`uploads/sending/admission.py`), so two submissions
    at once cannot both take the last unit.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="quota_months")
    month = models.DateField(help_text="The month's first day.")
    used = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "month"], name="one_quota_row_per_month")
        ]

    def __str__(self):
        return f"{self.team_id} {self.month:%Y-%m}: {self.used}"


class Status(models.TextChoices):
    QUEUED = "queued", "Waiting"
    SENDING = "sending", "Sending"
    PROCESSING = "processing", "Processing"
    PARSED = "parsed", "Done"
    PARSE_ERROR = "parse_error", "Processing failed"
    FAILED = "failed", "Failed"
    NEEDS_REVIEW = "needs_review", "Needs review"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = frozenset({Status.PARSED, Status.PARSE_ERROR, Status.FAILED, Status.CANCELLED})
# A URL submitted again to the same team is a duplicate (warned about, skipped unless
# the person asks to send it again) unless every earlier submission of it ended so.
NOT_A_DUPLICATE_STATUSES = frozenset({Status.FAILED, Status.PARSE_ERROR, Status.CANCELLED})
# Ends straight from the queue (cancelled, or its link died while it waited): nothing was
# uploaded, so its unit of the team's monthly quota is given back.
UNSENT_ENDS = frozenset({Status.CANCELLED, Status.FAILED})

# The one table of allowed moves. Anything not listed is refused.
ALLOWED_MOVES = {
    Status.QUEUED: {Status.SENDING, Status.CANCELLED, Status.FAILED},
    Status.SENDING: {
        Status.PROCESSING,
        Status.PARSED,
        Status.PARSE_ERROR,
        Status.FAILED,
        Status.NEEDS_REVIEW,
        Status.QUEUED,
    },
    # To needs_review when polling gives up on a video memories.ai stopped listing.
    Status.PROCESSING: {Status.PARSED, Status.PARSE_ERROR, Status.NEEDS_REVIEW},
    Status.NEEDS_REVIEW: {
        Status.PROCESSING,
        Status.PARSED,
        Status.PARSE_ERROR,
        Status.QUEUED,
        Status.FAILED,
    },
    Status.FAILED: {Status.QUEUED},
    Status.PARSED: set(),
    Status.PARSE_ERROR: set(),
    Status.CANCELLED: set(),
}

# memories.ai's own status words and the portal status each one means.
API_STATUS_TO_STATUS = {
    "UNPARSE": Status.PROCESSING,
    "PARSE": Status.PARSED,
    "PARSE_ERROR": Status.PARSE_ERROR,
}


class TransitionError(Exception):
    """A status change that the status model does not allow."""


class ClaimLost(TransitionError):
    """A step of a send whose claim is gone: recovered, settled, or claimed again.

    The worker that gets this stops: it sends nothing and changes nothing more.
    """


def database_now():
    """The database's clock: the same for every process, whatever host it runs on."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT STATEMENT_TIMESTAMP()")
            return cursor.fetchone()[0]
        cursor.execute("SELECT STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')")
        value = datetime.fromisoformat(cursor.fetchone()[0])
    return value.replace(tzinfo=UTC)


def local_time(database_moment):
    """A database-clock time as this host's clock reads it (for scheduling here)."""
    if database_moment is None:
        return None
    return timezone.now() + (database_moment - database_now())


class CallbackLimitReached(Exception):
    """One token called far more often than a video's life needs."""


def new_callback_token() -> str:
    """A fresh unguessable callback token (256 bits); only its hash is ever stored."""
    return secrets.token_urlsafe(32)


class SecondsBetween(Func):
    """Seconds from one datetime column to another, as a float, in SQL.

    Django's own `F(end) - F(start)` runs a Python function per row on SQLite;
    julianday() is SQLite's built-in and keeps the sort inside the database.
    """

    output_field = FloatField()

    def __init__(self, start, end):
        super().__init__(start, end)

    def _compiled(self, compiler):
        start, start_params = compiler.compile(self.source_expressions[0])
        end, end_params = compiler.compile(self.source_expressions[1])
        return start, end, (*end_params, *start_params)

    def as_sql(self, compiler, connection, **extra_context):
        start, end, params = self._compiled(compiler)
        return f"EXTRACT(EPOCH FROM ({end} - {start}))", params

    def as_sqlite(self, compiler, connection, **extra_context):
        start, end, params = self._compiled(compiler)
        return f"((julianday({end}) - julianday({start})) * 86400.0)", params


def seconds_to_finish():
    """A submission's time from creation to its end, as the duration indexes hold it."""
    return SecondsBetween("created_at", "finished_at")


def ids_of_each(*slices):
    """The ids that each of these sliced querysets selects, in one query.

    Each is read as it is (an index range in its order, up to its limit): a
    UNION ALL of them as subqueries. (An OR of `pk__in` subqueries can lead a
    planner to scan a whole table in the outer query's order instead.)
    """
    parts, params = [], []
    for i, queryset in enumerate(slices):
        sql, part_params = queryset.values_list("pk", flat=True).query.sql_with_params()
        parts.append(f"SELECT * FROM ({sql}) AS part{i}")  # noqa: S608 (Django's own SQL)
        params.extend(part_params)
    if not parts:
        return []
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return [row[0] for row in cursor.fetchall()]


def lock_team(team_id):
    """The team's row, locked (in the order of uploads/locks.py)."""
    team = Team.objects.select_for_update(no_key=True).get(pk=team_id)
    locks.took("team", team_id, team_id)
    return team


def lock_lanes(pairs):
    """The lanes of these (team id, person id), locked by (team, person) (uploads/locks.py)."""
    pairs = sorted(set(pairs))
    if not pairs:
        return []
    wanted = Q()
    for team_id, submitter_id in pairs:
        wanted |= Q(team_id=team_id, submitter_id=submitter_id)
    lanes = list(
        Lane.objects.select_for_update(no_key=True)
        .filter(wanted)
        .order_by("team_id", "submitter_id")
    )
    for team_id, submitter_id in pairs:
        locks.took("lane", team_id, (team_id, submitter_id))
    return lanes


def lock_lane(team_id, submitter_id):
    return lock_lanes([(team_id, submitter_id)])


class SubmissionQuerySet(models.QuerySet):
    def visible_to(self, user):
        if user.is_superuser:
            return self
        # By the ids of one's teams (one small query), not a join: with one team, the
        # database reads the team's rows in the list's order from an index and stops at
        # the end of the page, however long the team's history.
        team_ids = Membership.objects.filter(user=user).values_list("team_id", flat=True)
        return self.filter(team_id__in=list(team_ids))

    def ready_to_send(self):
        return self.filter(status=Status.QUEUED).filter(
            Q(not_before__isnull=True) | Q(not_before__lte=Now())
        )

    def earlier_of(self, team_id, keys):
        """{url key: the latest submission} of these keys already submitted to the team that
        count as duplicates (NOT_A_DUPLICATE_STATUSES do not). One query on the team's index."""
        found = {}
        earlier = (
            self.filter(team_id=team_id, url_key__in=list(keys))
            .exclude(status__in=NOT_A_DUPLICATE_STATUSES)
            .only("id", "url_key", "status", "created_at")
            .order_by("created_at", "id")
        )
        for submission in earlier:
            found[submission.url_key] = submission
        return found

    def next_retry_at(self):
        """When (on this host's clock) the earliest one waiting out a backoff becomes ready."""
        at = self.filter(status=Status.QUEUED, not_before__gt=Now()).aggregate(
            at=Min("not_before")
        )["at"]
        return local_time(at)


class VideoRequest(models.Model):
    """What a person asks memories.ai to do with one video: the form's fields, as stored.

    A submission has them, and so has a batch's row before it becomes one.
    """

    # Field names equal the API's parameter names.
    url = models.URLField(max_length=2048)
    # The URL's key for duplicate warnings (uploads.urlcheck.identity), set on save.
    url_key = models.CharField(max_length=64, blank=True, editable=False)
    datetime_taken = models.DateTimeField(null=True, blank=True)
    camera_model = models.CharField(max_length=128, blank=True)
    latitude = models.DecimalField(max_digits=10, decimal_places=7, null=True, blank=True)
    longitude = models.DecimalField(max_digits=10, decimal_places=7, null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    retain_original_video = models.BooleanField(default=False)
    video_transcription_prompt = models.TextField(max_length=2000, blank=True)
    confirm_public = models.BooleanField(
        default=False, help_text="The submitter confirmed the URL is publicly reachable."
    )
    probe = models.JSONField(
        default=dict, blank=True, help_text="What the URL check learned about the URL."
    )

    # The fields a person fills in (the form's, but the team), in the form's order.
    ASKED = (
        "url",
        "datetime_taken",
        "camera_model",
        "latitude",
        "longitude",
        "tags",
        "retain_original_video",
        "video_transcription_prompt",
    )
    # Everything above, to copy from one VideoRequest to another.
    REQUEST_FIELDS = (*ASKED, "url_key", "confirm_public", "probe")

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.url_key = identity.url_key(self.url) if self.url else ""
        super().save(*args, **kwargs)

    def request_values(self):
        """The fields above as a dict, to make another VideoRequest of them."""
        return {name: getattr(self, name) for name in self.REQUEST_FIELDS}


class Submission(VideoRequest):
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="submissions")
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submissions"
    )
    # Where it stands.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    api_status = models.CharField("memories.ai status", max_length=16, blank=True)
    video_no = models.CharField("video number", max_length=64, blank=True, db_index=True)
    unique_id = models.CharField(
        "sent to scope", max_length=128, blank=True, help_text="The scope it was sent to."
    )
    error_code = models.CharField(max_length=16, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # The claim number: one more at every claim. Each step of a send is
    # conditional on it, so a worker whose claim was taken away changes nothing.
    claim = models.PositiveIntegerField("claim number", default=0, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The team's turn before this claim took it, given back after a setback.
    team_turn_before = models.DateTimeField(null=True, blank=True, editable=False)
    # The submitter's turn in the team (Lane.last_turn) before this claim took it.
    lane_turn_before = models.BigIntegerField(null=True, blank=True, editable=False)
    # When a manager moved it to the front of its team's line (ahead of the people's turns).
    fronted_at = models.DateTimeField("moved to the front", null=True, blank=True, editable=False)
    # The month (its first day, in the portal's time zone) whose quota it counts in;
    # cleared when it is given back.
    counted_in = models.DateField(null=True, blank=True, editable=False)
    callback_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # Callbacks counted in the current hour (hours since the epoch), for the
    # per-token abuse limit: kept in the row so counting costs one UPDATE.
    callback_hour = models.PositiveIntegerField(default=0, editable=False)
    callback_calls = models.PositiveIntegerField(default=0, editable=False)
    # When a waiting submission may be tried again (after a retry-safe failure).
    not_before = models.DateTimeField(null=True, blank=True)
    # Set when a worker claims it; a submission left "sending" past it is recovered.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    request_started_at = models.DateTimeField(null=True, blank=True)
    # When to ask memories.ai for the status again (for when callbacks never come).
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # When list_videos last returned this video: polling gives up on one it stopped listing.
    listed_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Set when it came from a "Submit many" batch (its row holds the line it came from).
    batch = models.ForeignKey(
        "Batch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="submissions",
        db_index=False,  # the (batch, status) index below serves it
    )
    batch_row = models.OneToOneField(
        "BatchRow", on_delete=models.PROTECT, null=True, blank=True, related_name="submission"
    )

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["submitter", "created_at"]),
            # The dashboards' aggregates (counts by status, the median time to
            # PARSE, the per-member breakdown) read only these indexes, never the
            # table: their cost stays small however many submissions a team has.
            # The first also gives a team's list by status in the list's own order
            # (created_at, id: a page is read in order and the scan stops), and
            # serves the queue (a team's waiting ones, oldest first).
            models.Index(
                fields=["team", "status", "created_at", "id", "finished_at", "submitter"],
                name="sub_team_status_covering",
            ),
            models.Index(
                fields=["submitter", "team", "status", "created_at", "finished_at"],
                name="sub_submitter_covering",
            ),
            # A team's submissions by day (the chart), and a team's list in its order.
            models.Index(
                fields=["team", "created_at", "id", "status"], name="sub_team_created_status"
            ),
            # Duplicate warnings: has this team this URL already, and how did it end?
            models.Index(fields=["team", "url_key", "status"], name="sub_team_url_key"),
            # A batch's counts by status, and its waiting ones to cancel.
            models.Index(fields=["batch", "status"], name="sub_batch_status"),
            # The median time to Done, for a team and for a person: the durations are
            # read in order from these indexes (of the expression), never sorted; with
            # the two times in them, the rows themselves are never read.
            models.Index(
                "team",
                "status",
                SecondsBetween("created_at", "finished_at"),
                "created_at",
                "finished_at",
                name="sub_team_duration",
            ),  # fmt: skip
            models.Index(
                "submitter",
                "team",
                "status",
                SecondsBetween("created_at", "finished_at"),
                "created_at",
                "finished_at",
                name="sub_submitter_duration",
            ),  # fmt: skip
            # Each person's waiting ones in a team, oldest first (their own line), and
            # those moved to a team's front, in the order they were moved.
            models.Index(
                fields=["team", "submitter", "created_at", "id"],
                condition=Q(status="queued", fronted_at__isnull=True),
                name="sub_waiting_lane",
            ),
            models.Index(
                fields=["team", "fronted_at", "created_at", "id"],
                condition=Q(status="queued", fronted_at__isnull=False),
                name="sub_waiting_front",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.url[:60]}"

    def get_absolute_url(self):
        return reverse("submission_detail", args=[self.pk])

    @property
    def is_web_url(self):
        """An http(s) link, shown as a link and previewed (never another scheme)."""
        return self.url.lower().startswith(("http://", "https://"))

    @property
    def is_final(self):
        return self.status in FINAL_STATUSES

    # --- the one way to change status --------------------------------------
    #
    # Every status write goes through `_write_move` with the row locked: the
    # claim, a send's outcome, a callback, a poll, recovery, cancelling and the
    # admin's actions. It checks ALLOWED_MOVES, sets what the new status needs
    # and writes one event. Times that decide what happens next (leases, poll
    # times, retry times) come from the database's clock, never from the clock
    # of whichever host runs the code.

    @locks.retry_conflicts
    def transition(
        self,
        to,
        *,
        kind,
        message="",
        actor=None,
        data=None,
        claim=None,
        only_from=None,
        give_back_turn=False,
        **fields,
    ):
        """Move to `to`, refusing moves the status model does not allow.

        `claim`: the move is a step of the send that holds this claim number;
        ClaimLost if the send no longer holds it (recovered, settled, claimed
        again). `only_from`: refuse unless the current status is one of these.
        `give_back_turn`: a setback that was not the team's doing (give_back_turn).
        Locks the row and decides on what it finds there. Returns the event.
        """
        with transaction.atomic():
            current = Submission.objects.select_for_update(no_key=True).get(pk=self.pk)
            locks.took("submission", current.team_id, current.pk)
            if claim is not None and not current.holds(claim):
                raise ClaimLost(f"Submission {self.pk}: claim {claim} is no longer held.")
            if only_from is not None and current.status not in only_from:
                raise TransitionError(
                    f"Submission {self.pk} is {current.get_status_display()}, not "
                    + " or ".join(Status(s).label for s in only_from)
                    + "."
                )
            if give_back_turn:
                # The team before the status write, which takes the lane (uploads/locks.py).
                lock_team(current.team_id)
            event = current._write_move(
                to, kind=kind, message=message, actor=actor, data=data, **fields
            )
            if give_back_turn:
                current.give_back_turn()
        self.refresh_from_db()
        return event

    def holds(self, claim):
        """True while the send with this claim number is still the one under way."""
        return self.status == Status.SENDING and self.claim == claim

    def _write_move(self, to, *, kind, message="", actor=None, data=None, **fields):
        """Write a move of this (locked, freshly read) row and its event. The one writer."""
        if to not in ALLOWED_MOVES[self.status]:
            raise TransitionError(
                f"Submission {self.pk}: {self.get_status_display()} → "
                f"{Status(to).label} is not allowed."
            )
        changes = {**self._needs(to), "status": to, "updated_at": Now(), **fields}
        if self.status == Status.QUEUED and to in UNSENT_ENDS and self.counted_in:
            # It never left: its unit of the team's monthly quota comes back. The lane
            # first, then the quota row (uploads/locks.py), as admission takes them: the
            # status write below would take the lane only after the quota row.
            lock_lane(self.team_id, self.submitter_id)
            changes["counted_in"] = None
            QuotaMonth.objects.filter(team_id=self.team_id, month=self.counted_in).update(
                used=F("used") - 1
            )
            locks.took("quota", self.team_id, self.counted_in)
        Submission.objects.filter(pk=self.pk).update(**changes)
        self._took_by_triggers(to)
        # Who is told of it, written in this same transaction (after the row's own write,
        # so a batch sees this row in its new status).
        from .notifications import outbox

        outbox.status_changed(self, to, message)
        return self.events.create(
            kind=kind,
            from_status=self.status,
            to_status=to,
            message=message,
            actor=actor,
            data=data or {},
        )

    def _took_by_triggers(self, to):
        """The locks a status write takes through the triggers (uploads/counters.py)."""
        if Status.QUEUED in (self.status, to):
            locks.took("lane", self.team_id, (self.team_id, self.submitter_id))
        locks.took("tally", self.team_id, (self.team_id, self.submitter_id))

    def _needs(self, to):
        """What a status needs besides itself, in database-clock times."""
        needs = {}
        if to != Status.SENDING:
            needs["lease_expires_at"] = None
        if to == Status.QUEUED:
            needs["request_started_at"] = None
        if to == Status.PROCESSING:
            # Every way into processing is polled until final: callbacks may never come.
            needs["next_poll_at"] = Now() + timedelta(seconds=settings.POLL_MIN_INTERVAL_SECONDS)
        elif to in FINAL_STATUSES:
            needs["next_poll_at"] = None
        needs["finished_at"] = Now() if to in FINAL_STATUSES else None
        return needs

    def record(self, kind, message="", *, actor=None, data=None):
        """An event that changes no status."""
        return self.events.create(
            kind=kind,
            from_status=self.status,
            to_status=self.status,
            message=message,
            actor=actor,
            data=data or {},
        )

    # --- the worker's side ---------------------------------------------------

    @classmethod
    @locks.retry_conflicts
    def take_claim(cls, pk, lease_seconds):
        """Claim this waiting submission for sending; None if it is no longer waiting.

        The claim number goes up by one: every later step of this send is
        conditional on it. The team's turn is taken, and the submitter's turn
        within the team (unless a manager moved it to the front, which goes
        ahead of the people's turns); both are remembered so that a setback
        can give them back.
        """
        with transaction.atomic():
            current = (
                cls.objects.ready_to_send().select_for_update(no_key=True).filter(pk=pk).first()
            )
            if current is None:
                return None  # another worker took it, or it was cancelled
            locks.took("submission", current.team_id, current.pk)
            if current.batch_id and (cancelling := Batch.cancelling(current.batch_id)):
                # Its batch's waiting ones are being cancelled (perhaps by a worker that
                # died): the person asked for it not to be sent.
                current._write_move(
                    Status.CANCELLED,
                    kind=Event.Kind.CANCELLED,
                    message=f"Cancelled with the rest of batch #{cancelling.pk}.",
                    actor=cancelling.cancel_requested_by,
                )
                return None
            now = database_now()
            team = lock_team(current.team_id)
            takes_lane_turn = current.fronted_at is None
            lane_turn_before = next_turn = None
            if takes_lane_turn:
                # The team's row lock keeps its turn numbers in order.
                turns = dict(
                    Lane.objects.filter(team_id=team.pk).values_list("submitter_id", "last_turn")
                )
                lane_turn_before = turns.get(current.submitter_id)
                next_turn = max((t for t in turns.values() if t is not None), default=0) + 1
            current._write_move(
                Status.SENDING,
                kind=Event.Kind.CLAIMED,
                message=f"Attempt {current.attempts + 1}.",
                claim=F("claim") + 1,
                attempts=F("attempts") + 1,
                claimed_at=now,
                team_turn_before=team.last_sent_at,
                lane_turn_before=lane_turn_before,
                lease_expires_at=Now() + timedelta(seconds=lease_seconds),
                request_started_at=None,
            )
            Team.objects.filter(pk=team.pk).update(last_sent_at=now)
            if takes_lane_turn:
                Lane.objects.filter(team_id=team.pk, submitter_id=current.submitter_id).update(
                    last_turn=next_turn
                )
                locks.took("lane", team.pk, (team.pk, current.submitter_id))
        return cls.objects.select_related("team").get(pk=pk)

    def give_back_turn(self):
        """A setback that was not the team's doing: its turn in the round-robin comes back,
        and the submitter's turn within the team.

        Only if no other send of the team was claimed since (that one used a turn of its own).
        """
        given_back = Team.objects.filter(pk=self.team_id, last_sent_at=self.claimed_at).update(
            last_sent_at=self.team_turn_before
        )
        locks.took("team", self.team_id, self.team_id)
        if given_back and self.fronted_at is None:
            Lane.objects.filter(team_id=self.team_id, submitter_id=self.submitter_id).update(
                last_turn=self.lane_turn_before
            )
            locks.took("lane", self.team_id, (self.team_id, self.submitter_id))

    @classmethod
    @locks.retry_conflicts
    def move_to_front(cls, pks, *, actor):
        """Move these waiting submissions to the front of their team's line; returns them.

        Ahead of the people's turns, behind what was moved before (in the order
        they were moved; those moved together in their own order). Each gets an
        event on its timeline. Ones no longer waiting, or already at the front,
        are left as they are.
        """
        pks = list(pks)
        moved = []
        with transaction.atomic():
            now = database_now()
            teams = cls.objects.filter(pk__in=pks).order_by("team_id").values_list("team_id")
            # Team by team, each team's submissions and then their lanes (uploads/locks.py).
            for team_id in sorted({team_id for (team_id,) in teams.distinct()}):
                moved += cls._move_team_to_front(team_id, pks, now, actor)
        moved.sort(key=lambda s: (s.created_at, s.pk))
        return moved

    @classmethod
    def _move_team_to_front(cls, team_id, pks, now, actor):
        moved = list(
            cls.objects.select_for_update(no_key=True)
            .filter(pk__in=pks, team_id=team_id, status=Status.QUEUED, fronted_at__isnull=True)
            .order_by("pk")
        )
        for submission in moved:
            locks.took("submission", team_id, submission.pk)
        lock_lanes((team_id, s.submitter_id) for s in moved)
        moved.sort(key=lambda s: (s.created_at, s.pk))
        cls.objects.filter(pk__in=[s.pk for s in moved]).update(fronted_at=now, updated_at=Now())
        for submission in moved:
            locks.took("tally", team_id, (team_id, submission.submitter_id))
            submission.fronted_at = now
            submission.record(
                Event.Kind.MOVED,
                "Moved to the front of the team’s line, ahead of the people’s turns.",
                actor=actor,
            )
        return moved

    def start_request(self, claim, *, unique_id, lease_seconds, token_hash=None):
        """Just before the request leaves: True if this send still holds its claim.

        From here on its outcome may be unknown, so recovery will not resend it.
        The lease is renewed for the request's whole deadline; a claim whose
        lease ran out (a stalled worker) is not renewed: it sends nothing.
        """
        fields = {
            "request_started_at": Now(),
            "unique_id": unique_id,
            "lease_expires_at": Now() + timedelta(seconds=lease_seconds),
            "updated_at": Now(),
        }
        if token_hash is not None:
            fields["callback_token_hash"] = token_hash
        started = Submission.objects.filter(
            pk=self.pk, status=Status.SENDING, claim=claim, lease_expires_at__gt=Now()
        ).update(**fields)
        if started:
            self.unique_id = unique_id
            if token_hash is not None:
                self.callback_token_hash = token_hash
        return bool(started)

    @locks.retry_conflicts
    def mark_accepted(self, *, video_no, api_status, message, claim=None):
        """memories.ai took it: keep its video number and move on.

        The answer may come after a callback moved it on (kept as it is), or
        after this send's lease ran out and recovery set it aside for review
        (memories.ai has the video: it moves on, with an event saying so). An
        answer to an older claim that a person sent again is only recorded.
        """
        target = API_STATUS_TO_STATUS.get(api_status, Status.PROCESSING)
        data = {"video_no": video_no, "api_status": api_status}
        with transaction.atomic():
            current = Submission.objects.select_for_update(no_key=True).get(pk=self.pk)
            locks.took("submission", current.team_id, current.pk)
            if claim is not None and current.claim != claim:
                current.record(
                    Event.Kind.ACCEPTED,
                    f"{message} The answer to attempt {claim} came after it was sent again; "
                    "nothing changed.",
                    data=data,
                )
                self.refresh_from_db()
                return
            fields = {"sent_at": Now()}
            if not current.video_no:
                fields["video_no"] = video_no
            if current.status == Status.NEEDS_REVIEW:
                message += " The answer came after the send's lease ran out; memories.ai has it."
            if current.status in (Status.SENDING, Status.NEEDS_REVIEW):
                fields["api_status"] = api_status
                current._write_move(target, kind=Event.Kind.ACCEPTED, message=message, data=data,
                                    **fields)  # fmt: skip
            else:
                Submission.objects.filter(pk=self.pk).update(updated_at=Now(), **fields)
                current.record(Event.Kind.ACCEPTED, message, data=data)
        self.refresh_from_db()

    @classmethod
    @locks.retry_conflicts
    def recover(cls, pk):
        """A send whose lease ran out: decided under the row lock, on the row as it is now.

        If its request had not left, nothing left: back to the queue, the
        attempt not counted. If it had, memories.ai may have it: a person
        decides (a callback, a late answer or a poll may still settle it).
        Returns the new status, or None when it moved on meanwhile.
        """
        with transaction.atomic():
            current = (
                cls.objects.select_for_update(no_key=True)
                .filter(pk=pk, status=Status.SENDING, lease_expires_at__lt=Now())
                .first()
            )
            if current is None:
                return None
            locks.took("submission", current.team_id, current.pk)
            if current.request_started_at is None:
                # The team before the status write, which takes the lane (uploads/locks.py).
                lock_team(current.team_id)
                current._write_move(
                    Status.QUEUED,
                    kind=Event.Kind.RECOVERED,
                    message="The worker stopped before sending; back in the queue.",
                    attempts=Greatest(F("attempts") - 1, 0),
                )
                current.give_back_turn()
                return Status.QUEUED
            current._write_move(
                Status.NEEDS_REVIEW,
                kind=Event.Kind.RECOVERED,
                message="The worker stopped after the request left; memories.ai may have it. "
                "Not resent automatically.",
                error_message="The worker stopped while sending.",
            )
            return Status.NEEDS_REVIEW

    # --- memories.ai's side ---------------------------------------------------

    @classmethod
    def take_callback(cls, token_hash, limit):
        """Count a callback for this token and lock its submission (in a transaction).

        Returns the locked submission; None for an unknown token; raises
        CallbackLimitReached once `limit` callbacks came this hour.
        """
        hour = int(time.time() // 3600)
        fields = ["id", "team_id", "status", "video_no", "callback_token_hash"]
        # Plain SQL, one statement that counts, locks and reads (RETURNING: SQLite
        # 3.35+ and PostgreSQL): this runs for every callback, and building it
        # through the ORM cost more than running it.
        table = connection.ops.quote_name(cls._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                # Only the quoted table name is interpolated; values are parameters.
                f"UPDATE {table} SET callback_calls = CASE WHEN callback_hour = %s "  # noqa: S608
                "THEN callback_calls + 1 ELSE 1 END, callback_hour = %s "
                "WHERE callback_token_hash = %s "
                "AND NOT (callback_hour = %s AND callback_calls >= %s) "
                f"RETURNING {', '.join(fields)}",
                [hour, hour, token_hash, hour, limit],
            )
            row = cursor.fetchone()
        if row is not None:
            found = cls.from_db(connection.alias, fields, row)
            locks.took("submission", found.team_id, found.pk)
            return found
        if cls.objects.filter(callback_token_hash=token_hash).exists():
            raise CallbackLimitReached
        return None

    @locks.retry_conflicts
    def apply_api_status(self, api_status, video_no, *, source, actor=None, locked=False):
        """Apply a status that memories.ai reported (callback or poll).

        Idempotent: a repeat is counted on the event it repeats; a final status
        is never overwritten; a differing video number is refused.
        Returns "changed", "repeat" or "ignored" (with a reason), or raises
        ValueError for a video number conflict.
        """
        target = API_STATUS_TO_STATUS[api_status]
        # `locked`: the caller's transaction holds the row lock and self is fresh
        # (take_callback); no savepoint of our own is needed inside it.
        with transaction.atomic(savepoint=not locked):
            # Only the fields decided on: callbacks are the portal's busiest path.
            current = (
                self
                if locked
                else Submission.objects.select_for_update(no_key=True)
                .only("id", "team", "status", "video_no")
                .get(pk=self.pk)
            )
            locks.took("submission", current.team_id, current.pk)
            if video_no and current.video_no and video_no != current.video_no:
                raise ValueError(
                    f"video number {video_no} does not match {current.video_no} on record"
                )
            kind = Event.Kind.CALLBACK if source == "callback" else Event.Kind.POLLED
            data = {"api_status": api_status, "video_no": video_no}
            if target not in ALLOWED_MOVES[current.status]:
                # Nothing to move (a repeat, or a final status already reached):
                # count it on the event it repeats, or note it once.
                if Event.count_repeat(current.pk, kind, api_status):
                    return "repeat"
                current.record(
                    kind,
                    f"memories.ai says {api_status}; stays {current.get_status_display()}.",
                    actor=actor,
                    data=data,
                )
                return "ignored"
            fields = {"api_status": api_status}
            if video_no and not current.video_no:
                fields["video_no"] = video_no
            current._write_move(
                target,
                kind=kind,
                message=f"memories.ai says {api_status}.",
                actor=actor,
                data=data,
                **fields,
            )
        self.status = target
        for name, value in fields.items():
            setattr(self, name, value)
        return "changed"


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

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="events")
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
        through the ORM (an UPDATE of the row a Subquery picks) ran callbacks at 0.63 x
        /healthz in bench_callbacks.py (goal 0.7); this at 1.34, 2026-12-04.
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


def _account(account):
    """An account, from an account, its id, or None (the default account)."""
    if account is None:
        return MemoriesAccount.default()
    if isinstance(account, MemoriesAccount):
        return account
    return MemoriesAccount.objects.get(pk=account)


class UploadGate(models.Model):
    """An account's upload rate gate, shared by every worker process: one row per account.

    A worker may send through an account only after taking a slot with a
    conditional UPDATE that moves `next_allowed_at` forward; whoever changes
    the row got the slot, so any number of workers on any number of machines
    send at most the account's rate. Each account's row is its own: teams on
    different accounts send in parallel, and a pause stops one account only.

    Every method takes the account (an account, its id, or None for the
    default one).
    """

    account = models.OneToOneField(
        MemoriesAccount, on_delete=models.CASCADE, related_name="gate", null=True
    )
    next_allowed_at = models.DateTimeField(default=timezone.now)
    # When the account is free for the next request to leave: held while one is
    # under way (for its whole deadline), an interval after its answer.
    free_at = models.DateTimeField(default=timezone.now)
    # Consecutive "rate limited" answers, for exponential backoff.
    rate_limited_streak = models.PositiveIntegerField(default=0)
    paused = models.BooleanField(default=False)
    paused_reason = models.TextField(blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    # The status-list endpoint has its own, faster limit (5 per second).
    list_next_allowed_at = models.DateTimeField(default=timezone.now)
    # The last status poll's failure (an error, or an answer of an unknown
    # shape), until a poll succeeds: shown by /healthz, never read as "no videos".
    poll_problem = models.TextField(blank=True)
    poll_problem_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "upload gate"

    def __str__(self):
        state = "Paused" if self.paused else "Sending"
        return f"{self.account}: {state}" if self.account_id else state

    @classmethod
    def get(cls, account=None):
        account_id = account if isinstance(account, int) else _account(account).pk
        gate = cls.objects.filter(account_id=account_id).first()
        if gate is None:
            # Open now by the database's clock, not by the clock of the host that
            # happens to create the row first.
            cls.objects.get_or_create(
                account_id=account_id,
                defaults={
                    "next_allowed_at": Now(),
                    "free_at": Now(),
                    "list_next_allowed_at": Now(),
                },
            )
            gate = cls.objects.get(account_id=account_id)
        return gate

    # Requests are spaced from the previous one's *answer* (memories.ai counts a
    # request somewhere between its departure and its answer), which already
    # covers jitter between leaving here and arriving there; the 0.1% is for
    # clock resolution. (Spacing from departures needed 1% and still met a 0429
    # under load.)
    SAFETY_MARGIN = 1.001

    @classmethod
    def interval(cls, account=None):
        per_minute = _account(account).per_minute()
        return timedelta(seconds=60.0 / per_minute * cls.SAFETY_MARGIN)

    @classmethod
    def of(cls, account=None):
        """The account's gate as the account was read with it (select_related("gate")),
        else as it is now (made on first use)."""
        if isinstance(account, MemoriesAccount):
            cached = account._state.fields_cache.get("gate")
            if cached is not None:
                return cached
        return cls.get(account)

    @classmethod
    def _row(cls, account=None):
        """The account's row, created on first use, as a queryset to update."""
        return cls.objects.filter(pk=cls.of(account).pk)

    @classmethod
    def _take(cls, field, interval, account=None, **conditions):
        """Take a slot when `field` has passed: move it one interval on, or say when it opens.

        Whoever changes the row got the slot; the others get the time to come
        back (on this host's clock). The database's clock decides, so a host
        whose clock runs fast cannot take a slot early.
        """
        row = cls._row(account)
        if row.filter(**{f"{field}__lte": Now()}, **conditions).update(**{field: Now() + interval}):
            return None
        opens_at, now = row.annotate(now=Now()).values_list(field, "now").get()
        return timezone.now() + max(opens_at - now, timedelta(0))

    @classmethod
    def account_free_at(cls, account=None):
        """When the account is free for the next request to leave, on this host's clock."""
        return local_time(cls._row(account).values_list("free_at", flat=True).get())

    @classmethod
    def next_slot_at(cls, account=None):
        """When the account's next upload slot opens, on this host's clock."""
        row = cls._row(account).annotate(opens=Greatest("next_allowed_at", "free_at"))
        return local_time(row.values_list("opens", flat=True).get())

    @classmethod
    def take_slot(cls, account=None, early=timedelta(0)):
        """Take the account's next upload slot, up to `early` before it opens.

        Returns (True, when the request may leave) or (False, when to come back),
        both on this host's clock. The slot decides which worker goes next (it
        may claim and prepare while the slot opens); `reserve_departure`
        decides, as the request leaves, that it may.
        """
        account = _account(account)
        row, interval = cls._row(account), cls.interval(account)
        horizon = Now() + early
        taken = row.filter(next_allowed_at__lte=horizon, free_at__lte=horizon, paused=False).update(
            next_allowed_at=Greatest("next_allowed_at", Now()) + interval
        )
        opens = Greatest("next_allowed_at", "free_at")
        if taken:  # it leaves at the slot it took, one interval before the next
            opens = Greatest(F("next_allowed_at") - interval, "free_at")
        opens_at, now = row.annotate(opens=opens, now=Now()).values_list("opens", "now").get()
        return bool(taken), timezone.now() + max(opens_at - now, timedelta(0))

    @classmethod
    def take_list_slot(cls, account=None):
        """Like take_slot, for list_videos requests: None, or when the next slot opens."""
        # Spaced from departures: the 1% absorbs jitter between leaving and arriving.
        interval = timedelta(seconds=1.01 / settings.MEMORIES_LIST_PER_SECOND)
        return cls._take("list_next_allowed_at", interval, account)

    @classmethod
    def reserve_departure(cls, deadline_seconds, account=None):
        """As a request is about to leave: True if it may, now.

        Only when no other request of the account is under way or answered less
        than an interval ago: a worker that took its slot and then stalled finds
        the account busy and does not send. Until the answer comes, the account
        is held for the request's whole deadline, plus the interval.
        """
        account = _account(account)
        interval = cls.interval(account)
        held = timedelta(seconds=deadline_seconds) + interval
        return bool(
            cls._row(account)
            .filter(free_at__lte=Now(), paused=False)
            .update(
                free_at=Now() + held,
                next_allowed_at=Greatest(F("next_allowed_at"), Now() + interval),
            )
        )

    @classmethod
    def answered(cls, account=None):
        """The request's answer is in (or it failed): the next may leave an interval from now.

        memories.ai counts a request somewhere between its departure and its
        answer, so spacing from the answer keeps requests an interval apart
        however slowly this one went.
        """
        account = _account(account)
        interval = cls.interval(account)
        cls._row(account).update(
            free_at=Now() + interval,
            next_allowed_at=Greatest(F("next_allowed_at"), Now() + interval),
        )

    @classmethod
    def push_back(cls, delay, account=None):
        """After a rate-limit answer: no slot before `delay` from now, nor the planned one."""
        cls._row(account).update(
            next_allowed_at=Greatest(F("next_allowed_at"), Now() + delay),
            free_at=Greatest(F("free_at"), Now() + delay),
            rate_limited_streak=F("rate_limited_streak") + 1,
        )

    @classmethod
    def reset_streak(cls, account=None):
        cls._row(account).filter(rate_limited_streak__gt=0).update(rate_limited_streak=0)

    @classmethod
    def pause(cls, reason, account=None):
        """Stop this account's sending (its teams only) with the reason; the people to tell
        are emailed once per pause (an episode: from the pause to its resumption)."""
        from .notifications import outbox

        account = _account(account)
        with transaction.atomic():
            row = cls._row(account)
            # The conditional update decides which call starts the episode.
            began = row.filter(paused=False).update(
                paused=True, paused_reason=reason, paused_at=timezone.now()
            )
            if not began:
                row.update(paused_reason=reason)
                return
            outbox.sending_paused(reason, account)

    @classmethod
    def resume(cls, account=None):
        with transaction.atomic():
            cls._row(account).update(paused=False, paused_reason="", paused_at=None)

    @classmethod
    def note_poll_problem(cls, problem, account=None):
        cls._row(account).update(poll_problem=problem, poll_problem_at=Now())

    @classmethod
    def clear_poll_problem(cls, account=None):
        cls._row(account).exclude(poll_problem="").update(poll_problem="", poll_problem_at=None)


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
        Submission, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["batch", "line"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "line"], name="one_row_per_batch_line")
        ]
        indexes = [models.Index(fields=["batch", "state", "line"], name="batchrow_state_line")]

    def __str__(self):
        return f"Line {self.line}: {self.given.get('url', '')[:60]}"


# The notifications' tables live in their own room; imported here so Django finds them.
from .notifications.records import AlertEpisode, Notice, WebhookEndpoint  # noqa: E402, F401
