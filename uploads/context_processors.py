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
    """What every page needs: the banners and the user's teams for the navigation (and
    whether they only view all of them, to leave out the links to submit)."""
    teams, paused, needs_review, read_only = [], None, None, False
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        memberships = (
            Membership.objects.filter(user=user, team__is_active=True)
            .order_by("team__name")
            .values_list("team__name", "team__slug", "role")
        )
        teams = [{"name": name, "slug": slug, "role": role} for name, slug, role in memberships]
        paused = Paused()
        needs_review = NeedsReview(user)
        read_only = (
            bool(teams)
            and not user.is_superuser
            and not any(team["role"] in Membership.WRITING_ROLES for team in teams)
        )
    return {
        "read_only": read_only,
        "sending_paused": paused,
        "needs_review": needs_review,
        "sandbox_mode": settings.MEMORIES_SANDBOX and not settings.MEMORIES_API_KEY,
        "nav_teams": teams,
    }
