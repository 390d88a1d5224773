"""What a submission asks of the world before it is made, beyond the shape of what was
typed (uploads/forms.py): room under the person's cap and the team's quota, no earlier
submission of the URL in the team, and the URL check (uploads/urlcheck/probe.py).

The pages and the API call `ready_to_submit` with a bound SubmissionForm; each refusal
is added to the form, beside its field, as the form's own errors are. A batch checks
its rows' links with `check_link`, many at once, and admits its rows when queued.
"""

from django.utils import timezone
from django.utils.formats import date_format

from .forms import SubmissionForm
from .models import Submission, Team
from .sending import admission
from .urlcheck import identity, probe
from .urlcheck import policy as url_policy
from .urlcheck.findings import UrlCheck

__all__ = ["LinkProblem", "check_link", "duplicate_message", "ready_to_submit"]


def ready_to_submit(form: SubmissionForm, *, for_api: bool = False) -> bool:
    """True when the bound form's values may be submitted; False with the reasons added
    to the form. Its cleaned data then holds the URL check's findings ("url_check").

    The form's rules come first; then, for a team it accepts, the person's cap and the
    team's quota (a hint before the URL is fetched: the submission decides again, under
    locks), then an earlier submission of the URL, then the URL check itself.
    `for_api`: the messages name the request's fields, not the page's checkboxes."""
    if not form.is_bound:
        return False
    form.is_valid()  # the form's own rules, first
    cleaned = form.cleaned_data
    url, team = cleaned.get("url"), cleaned.get("team")
    if team:
        problem = admission.why_not(team, form.user)
        if problem:
            form.add_error(None, problem)
            return False
    # A URL the form refused is not in its cleaned data: it is never fetched.
    if url and team and _is_new(form, url, team, for_api=for_api):
        cleaned["url_check"] = _checked_url(form, url, team, for_api=for_api)
    return not form.errors


def _is_new(form: SubmissionForm, url: str, team: Team, *, for_api: bool) -> bool:
    """False, with the warning added, for a URL the team already has (unless sent again)."""
    if form.cleaned_data.get("send_again"):
        return True
    earlier = Submission.objects.earlier_of(team.pk, [identity.url_key(url)])
    if not earlier:
        return True
    form.offer_send_again = True
    message = duplicate_message(next(iter(earlier.values())), team)
    if for_api:
        message = message.replace("Tick “Send it again”", "Send `send_again: true`")
    form.add_error("url", message)
    return False


def _checked_url(form: SubmissionForm, url: str, team: Team, *, for_api: bool) -> UrlCheck | None:
    """Fetch what is needed of the URL to catch what memories.ai would refuse.

    Returns what was found (a UrlCheck), or None with the error added.
    """
    try:
        return check_link(url, team, confirm_public=bool(form.cleaned_data.get("confirm_public")))
    except LinkProblem as problem:
        if not problem.confirmable:
            form.add_error("url", problem.message)
            return None
        form.offer_confirm_public = True
        confirm = (
            "send it again with `confirm_public: true`"
            if for_api
            else "tick “I confirm this URL is publicly reachable” below and submit again"
        )
        form.add_error(
            "url", f"{problem.message} If the link does work from the internet, {confirm}."
        )
    return None


def duplicate_message(earlier: Submission, team: Team) -> str:
    when = date_format(timezone.localtime(earlier.created_at), "j M Y")
    return (
        f"This URL was already submitted to {team.name} on {when} "
        f"(#{earlier.pk}, {earlier.get_status_display()}). Tick “Send it again” to spend "
        "another upload on it."
    )


class LinkProblem(Exception):
    """Why a URL cannot be sent; `confirmable`: it only could not be reached from here."""

    def __init__(self, message: str, *, confirmable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.confirmable = confirmable


def check_link(url: str, team: Team, *, confirm_public: bool = False) -> UrlCheck:
    """The URL check, judged as the pages judge it: what was found (a UrlCheck), or
    LinkProblem. `confirm_public`: a link that could not be reached passes, with the problem
    noted. Plain Python once called (no database): a batch runs it in threads."""
    try:
        result = probe.probe_url(url, **url_policy.probe_options(team))
    except probe.ProbeRefused as exc:
        raise LinkProblem(exc.message, confirmable=False) from None
    except probe.ProbeUnreachable as exc:
        if confirm_public:
            return UrlCheck(checked_at=timezone.now(), problem=exc.message)
        raise LinkProblem(exc.message, confirmable=True) from None
    return UrlCheck(checked_at=timezone.now(), result=result)
