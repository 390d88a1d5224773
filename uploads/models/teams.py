"""Teams, the people in them (and their roles), the identity provider's groups that make
memberships, and each person's settings."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.text import slugify

from .accounts import MemoriesAccount


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
