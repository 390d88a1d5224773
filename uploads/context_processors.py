from django.conf import settings
from django.db.models import F
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
    """(count, link) of what needs review, for superusers: only they can settle it (resend
    or mark failed), so only they are told on every page. Managers find their teams' on
    the team dashboard's "Needs attention", members on the submission itself."""
    if not user.is_superuser:
        return 0, ""
    return Submission.objects.filter(status=Status.NEEDS_REVIEW).count(), needs_attention_url()


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


# The navigation's entry each page belongs to ("team" is the team of the URL's slug). Its
# own page is marked aria-current="page"; the pages under it, aria-current="true".
NAV_SECTIONS = {
    "home": "home",
    "submission_list": "submission_list",
    "submission_detail": "submission_list",
    "submission_cancel": "submission_list",
    "submission_resend": "submission_list",
    "submission_mark_failed": "submission_list",
    "submission_new": "submission_new",
    "batch_new": "batch_new",
    "batch_detail": "batch_new",
    "batch_cancel": "batch_new",
    "tokens": "tokens",
    "token_revoke": "tokens",
    "person_settings": "person_settings",
    "team_dashboard": "team",
    "webhook_list": "team",
    "webhook_detail": "team",
    "webhook_delete": "team",
}


class Nav(dict):
    """{entry: "page" or "true"} for the one navigation entry the page belongs to."""

    def __init__(self, request):
        match = getattr(request, "resolver_match", None)
        name = match.url_name if match else None
        section = NAV_SECTIONS.get(name)
        if section == "team":
            section = "team:" + match.kwargs.get("slug", "")
        entry = name if name != "team_dashboard" else section
        super().__init__({section: "page" if entry == section else "true"} if section else {})


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
        paused = Paused(user)
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
        "nav": Nav(request),
    }
