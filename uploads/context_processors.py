from django.conf import settings
from django.db.models import Count, F
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.http import urlencode

from .filters import ANYONE, NEEDS_ATTENTION
from .models import Membership, Status, Submission, UploadGate


def needs_attention_url(team_slug=None):
    """The one list of submissions that need a person (needs review or failed, oldest
    first): the list, filtered as filters.needs_attention filters; the team dashboard's
    "Needs attention" shows its first few and links here."""
    query = {"status": NEEDS_ATTENTION, "submitter": ANYONE, "sort": "date"}
    if team_slug is not None:
        query["team"] = team_slug
    return reverse("submission_list") + "?" + urlencode(query)


def needs_review_banner(user):
    """(count, link) of what needs review: all of it for superusers, their teams' for
    managers, nothing for members. One query."""
    waiting = Submission.objects.filter(status=Status.NEEDS_REVIEW)
    if user.is_superuser:
        return waiting.count(), needs_attention_url()
    per_team = list(
        waiting.filter(
            team__memberships__user=user, team__memberships__role=Membership.Role.MANAGER
        )
        .values("team_id", "team__slug")
        .annotate(n=Count("id"))
        .order_by()
    )
    count = sum(row["n"] for row in per_team)
    if not count:
        return 0, ""
    only = per_team[0]["team__slug"] if len(per_team) == 1 else None
    return count, needs_attention_url(only)


class NeedsReview:
    """The banner's figures, looked up only if a page shows the banner (fragments do not)."""

    def __init__(self, user):
        self.user = user

    @cached_property
    def found(self):
        return needs_review_banner(self.user)

    @property
    def count(self):
        return self.found[0]

    @property
    def url(self):
        return self.found[1]


class Paused:
    """The paused accounts this person sends through (every one, for superusers), looked up
    only if a page shows the banner: everyone on such an account is told, since their send
    times stop meanwhile; the reason is shown to superusers and the account's teams'
    managers."""

    def __init__(self, user):
        self.user = user

    @cached_property
    def accounts(self):
        """[(gate, whether this person sees the reason)], the account's name first."""
        gates = UploadGate.objects.filter(paused=True).select_related("account")
        if self.user.is_superuser:
            return [(gate, True) for gate in gates.order_by("account__name")]
        # One query: the paused gates of the accounts this person's teams send through,
        # a row for each of their roles there.
        rows = (
            gates.filter(
                account__teams__is_active=True, account__teams__memberships__user=self.user
            )
            .annotate(role=F("account__teams__memberships__role"))
            .order_by("account__name")
        )
        found = {}
        for gate in rows:
            manages = gate.role == Membership.Role.MANAGER
            found[gate.pk] = (gate, manages or found.get(gate.pk, (None, False))[1])
        return list(found.values())

    def __bool__(self):
        return bool(self.accounts)

    @property
    def reason(self):
        return " ".join(gate.paused_reason for gate, shown in self.accounts if shown)


def portal(request):
    """What every page needs: the banners and the user's teams for the navigation."""
    teams, paused, needs_review = [], None, None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        teams = list(user.teams.filter(is_active=True).order_by("name").values("name", "slug"))
        paused = Paused(user)
        needs_review = NeedsReview(user)
    return {
        "sending_paused": paused,
        "needs_review": needs_review,
        "sandbox_mode": settings.MEMORIES_SANDBOX and not settings.MEMORIES_API_KEY,
        "nav_teams": teams,
    }
