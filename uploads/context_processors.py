from django.conf import settings
from django.db.models import Count
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
    """Whether sending is paused (and why, shown to superusers only), looked up only if a
    page shows the banner: everyone is told, since their send times stop meanwhile."""

    @cached_property
    def gate(self):
        return UploadGate.objects.filter(pk=1, paused=True).only("paused_reason").first()

    def __bool__(self):
        return self.gate is not None

    @property
    def reason(self):
        return self.gate.paused_reason if self.gate else ""


def portal(request):
    """What every page needs: the banners and the user's teams for the navigation."""
    teams, paused, needs_review = [], None, None
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        teams = list(user.teams.filter(is_active=True).order_by("name").values("name", "slug"))
        paused = Paused()
        needs_review = NeedsReview(user)
    return {
        "sending_paused": paused,
        "needs_review": needs_review,
        "sandbox_mode": settings.MEMORIES_SANDBOX and not settings.MEMORIES_API_KEY,
        "nav_teams": teams,
    }
