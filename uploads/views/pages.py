"""The pages people use: dashboards, the list and its CSV, a submission, the form."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.http.response import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.csp import CSP
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from .. import services, submitting
from ..context_processors import needs_attention_url
from ..filters import ANYONE, SubmissionFilterForm, needs_attention
from ..forms import PersonSettingsForm, SubmissionForm, submission_form_initial
from ..models import (
    MemoriesAccount,
    PersonSettings,
    Status,
    Submission,
    Tally,
    TransitionError,
    UploadGate,
)
from ..pagination import CappedPaginator
from ..permissions import can_cancel, can_move_to_front
from ..reports import export, stats
from ..selectors import (
    get_dashboard_user,
    get_submission_for_user,
    get_submission_to_change,
    get_submissions_for_user,
    get_team_for_user,
    manages,
    manages_any,
    require_writer,
    team_ids_of,
    visible_submissions,
    with_places,
)
from ..sending import admission, queue
from ..sending import sender as sending
from ..urlcheck.findings import UrlCheck
from .access import can_mark_failed, can_resend, can_submit_again

PAGE_SIZE = 25
# The question each action that asks first asks, and its button: in the <dialog> on the
# submission's page and on the confirmation page alike.
CONFIRM = {
    "cancel": (
        "Cancel this submission? It leaves the queue and is not sent; you can submit it "
        "again later.",
        "Yes, cancel it",
    ),
    "resend": (
        "Send this submission to memories.ai again? It costs another upload; if memories.ai "
        "did receive it the first time, the video will be there twice.",
        "Send it again",
    ),
    "mark_failed": (
        "Mark this submission failed? Do this once you know memories.ai did not receive it; "
        "its submitter can then submit it again.",
        "Mark it failed",
    ),
}
# Where a preview's video may come from (the person's browser fetches it; an HLS
# playlist's parts are fetched by hls.js, hence connect-src too). blob: is hls.js's
# MediaSource.
PREVIEW_SOURCES = ["https:"]
# The status fragment answers for at most this many submissions per request.
MAX_LIVE_IDS = 100


def plays_previews(view):
    """The pages with a preview: the Content Security Policy lets their video in."""

    @wraps(view)
    def with_media(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        policy = dict(settings.SECURE_CSP)
        policy["media-src"] = [CSP.SELF, *PREVIEW_SOURCES, "blob:"]
        policy["connect-src"] = [*policy.get("connect-src", [CSP.SELF]), *PREVIEW_SOURCES]
        response._csp_config = policy  # read by django.middleware.csp
        return response

    return with_media


def live_ids(*groups):
    """The ids of the shown submissions that may still change: the page polls for these."""
    return [s.pk for group in groups for s in group if not s.is_final]


def _period(request):
    """?days=: one of stats.PERIODS (30 without it); None for anything else."""
    raw = request.GET.get("days", str(stats.CHART_DAYS))
    return int(raw) if raw in {str(days) for days in stats.PERIODS} else None


def bad_request(request, reason, back=""):
    """A 400 in the portal's own page: what was not understood, and a way on."""
    context = {"reason": reason, "back": back or request.path}
    return render(request, "400.html", context, status=400)


def _dashboard(request, scope, *, title, list_query, team=None):
    """`scope`: the dashboard's selection, as filters that Submission and Tally both take."""
    days = _period(request)
    if days is None:
        periods = ", ".join(map(str, stats.PERIODS))
        return bad_request(
            request, f"A dashboard shows the last {periods} days; “days” cannot be anything else."
        )
    submissions = Submission.objects.filter(**scope)
    managed = bool(team and team.can_see_members)
    members = stats.member_breakdown(team) if managed else None
    # A manager's list of what needs a person: the first few of the very list the
    # needs-review banner links to.
    attention = (
        list(needs_attention(submissions).select_related("submitter")[: stats.ATTENTION_SHOWN])
        if managed
        else None
    )
    failures = stats.recent_failures(submissions)
    if team:
        # The team's next ones, in the order its line will send them.
        waiting, teams = queue.next_of_team(team, stats.WAITING_SHOWN)
    else:
        waiting, teams = stats.oldest_waiting(submissions), None
    waiting = sorted(with_places(waiting, teams), key=lambda s: s.place or 0)
    return render(
        request,
        "uploads/dashboard.html",
        {
            "title": title,
            "team": team,
            "figures": stats.figures(submissions, Tally.objects.filter(**scope), days),
            "periods": stats.PERIODS,
            "attention": attention,
            "attention_url": needs_attention_url(team.slug) if team else "",
            "quota": admission.quota(team) if team else None,
            "account": _account_pace(team) if team else None,
            "failures": failures,
            "waiting": waiting,
            "members": members,
            "list_query": list_query,
            "live_ids": live_ids(waiting),
        },
    )


def _account_pace(team):
    """The memories.ai account a team sends through, its pace, and whether it is paused."""
    account = MemoriesAccount.objects.select_related("gate").get(pk=team.account_id)
    gate = UploadGate.of(account)  # read with the account, in one query
    return {"name": account.name, "per_minute": f"{account.per_minute():g}", "paused": gate.paused}


@login_required
def home(request):
    """My dashboard: my submissions in my teams."""
    scope = {"submitter": request.user}
    if not request.user.is_superuser:
        # As visible_submissions(), by the ids of one's teams: the indexes that start
        # with the submitter then serve every figure.
        scope["team__in"] = team_ids_of(request.user)
    return _dashboard(request, scope, title="My dashboard", list_query={})


@login_required
def user_dashboard(request, pk):
    """Anyone's dashboard, for superusers (and one's own)."""
    person = get_dashboard_user(request.user, pk)
    if person == request.user:
        return redirect("home")
    return _dashboard(
        request,
        {"submitter": person},
        title=f"{person.get_username()}’s dashboard",
        list_query={"submitter": person.pk},
    )


@login_required
def team_dashboard(request, slug):
    team = get_team_for_user(request.user, slug)
    return _dashboard(
        request,
        {"team": team},
        title=team.name,
        team=team,
        list_query={"submitter": ANYONE, "team": team.slug},
    )


def _filter_form(request):
    form = SubmissionFilterForm(request.GET, user=request.user)
    if form.names_the_unknown():
        raise Http404("No such team or person.")
    return form


@login_required
def submission_list(request):
    form = _filter_form(request)
    submissions = form.filter(visible_submissions(request.user).select_related("team", "submitter"))
    page = CappedPaginator(submissions, PAGE_SIZE).get_page(request.GET.get("page"))
    with_places(page.object_list)
    return render(
        request,
        "uploads/submission_list.html",
        {
            "page": page,
            "form": form,
            "live_ids": live_ids(page.object_list),
            "can_move_to_front": manages_any(request.user),
        },
    )


@login_required
def submission_export(request):
    """The list's current selection (all pages) as a CSV download."""
    form = _filter_form(request)
    if not form.is_valid():
        return HttpResponseBadRequest(
            "The filters are not valid:\n" + form.errors.as_text(), content_type="text/plain"
        )
    submissions = form.filter(visible_submissions(request.user))
    response = StreamingHttpResponse(
        export.csv_lines(
            submissions, base_url=request.build_absolute_uri("/")[:-1], zone=request.zone
        ),
        content_type="text/csv; charset=utf-8",
    )
    filename = f"submissions-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@never_cache
def submission_statuses(request):
    """Fresh status badges for the given ids, for pages that poll while something may change.

    Answers with the badges (swapped in by id, out of band) and the poller
    itself, which stops polling once all of them are final.
    """
    if not request.user.is_authenticated:
        # 286 tells htmx to stop polling: a logged-out page must not swap in the login form.
        return HttpResponse(status=286)
    try:
        pks = [int(pk) for pk in request.GET.get("ids", "").split(",") if pk]
    except ValueError:
        return HttpResponseBadRequest("ids: comma-separated numbers.")
    if not pks or len(pks) > MAX_LIVE_IDS:
        return HttpResponseBadRequest(f"ids: between 1 and {MAX_LIVE_IDS} of them.")
    submissions = with_places(get_submissions_for_user(request.user, pks))
    return render(
        request,
        "uploads/_statuses.html",
        {"submissions": submissions, "live_ids": live_ids(submissions)},
    )


class _BadAgain(ValueError):
    """?again= names no submission that can be submitted again: the reason, for a 400."""


def _again_initial(request):
    """?again=<pk>: the form prefilled from a submission of one's teams that ended without
    being processed (Submit again); {} without it."""
    raw = request.GET.get("again")
    if raw is None:
        return {}
    if not raw.isdigit() or int(raw) >= 2**63:  # larger ones cannot exist (nor be bound)
        raise _BadAgain("“Submit again” needs the number of a submission (again=123).")
    submission = get_submission_for_user(request.user, int(raw))
    if not can_submit_again(submission):
        raise _BadAgain(
            f"Submission #{submission.pk} cannot be submitted again: only a failed, processing "
            "failed or cancelled one can."
        )
    return submission_form_initial(submission)


@login_required
@plays_previews
def submission_new(request):
    require_writer(request.user)
    try:
        initial = {} if request.method == "POST" else _again_initial(request)
    except _BadAgain as exc:
        return bad_request(request, str(exc), back=reverse("submission_new"))
    form = SubmissionForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and submitting.ready_to_submit(form):
        try:
            submission = services.submit(request.user, form.cleaned_data)
        except services.Refused as exc:
            form.add_error(None, str(exc))
        else:
            # What happens next is said in the page's live part, which changes with it.
            messages.success(request, "Submitted.")
            problem = sending.sending_problem(submission.team.account)
            if problem:
                messages.warning(request, problem)
            return redirect(submission)
    if not form.fields["team"].queryset.exists():
        messages.warning(request, "You are not in any team yet; ask an administrator to add you.")
    return render(request, "uploads/submission_form.html", {"form": form})


@plays_previews
def submission_detail(request, pk):
    """A submission's page. While it may change, its body asks for itself again every few
    seconds (htmx, `?part=body`): the badge, memories.ai's status, the problem, the place
    in the queue, the actions and the timeline all change together."""
    if request.GET.get("part") == "body" and not request.user.is_authenticated:
        # 286 tells htmx to stop polling: a logged-out page must not swap in the login form.
        return HttpResponse(status=286)
    return _submission_detail(request, pk)


@login_required
def _submission_detail(request, pk):
    submission = get_submission_for_user(request.user, pk)
    with_places([submission])
    events = list(submission.events.select_related("actor").order_by("created_at", "id"))
    manager = manages(request.user, submission.team_id)
    context = {
        "submission": submission,
        "events": events,
        "failed_because": failure_cause(submission, events),
        "can_cancel": can_cancel(request.user, submission, manager=manager),
        "can_move_to_front": can_move_to_front(request.user, submission, manager=manager),
        "can_resend": can_resend(request.user, submission),
        "can_mark_failed": can_mark_failed(request.user, submission),
        "can_submit_again": can_submit_again(submission),
        "url_check_facts": UrlCheck.facts_of(submission.url_check),
        "confirm": CONFIRM,
        "map_url": map_url(submission),
    }
    if request.GET.get("part") == "body":
        return render(request, "uploads/_submission_body.html", context)
    return render(request, "uploads/submission_detail.html", context)


def failure_cause(submission, events):
    """Why a failed submission failed, as its failing event recorded it: "link_died",
    "refused", "gave_up" or "marked" (older failures recorded no cause: "")."""
    if submission.status != Status.FAILED:
        return ""
    failing = [event for event in events if event.to_status == Status.FAILED]
    return failing[-1].data.get("cause", "") if failing else ""


def map_url(submission):
    """A link to the place the video was taken, on the map MAP_URL names (none when empty)."""
    if submission.latitude is None or submission.longitude is None or not settings.MAP_URL:
        return ""
    lat, lon = (f"{value.normalize():f}" for value in (submission.latitude, submission.longitude))
    return settings.MAP_URL.format(lat=lat, lon=lon)


def _act_on_one(request, pk, *, allowed, refused, act, done, too_late, confirm=None):
    """A POST that changes one submission: allowed(user, submission) or the `refused`
    message; act(submission) True when done, False when it moved on meanwhile. A viewer of
    its team is refused first (403).

    `confirm`: (question, button) for actions that ask first: a GET shows the question
    (the page a <dialog> stands in for), and a POST without `confirmed` acts on nothing."""
    submission = get_submission_to_change(request.user, pk)
    if confirm and (request.method == "GET" or not request.POST.get("confirmed")):
        if not allowed(request.user, submission):
            messages.error(request, refused)
            return redirect(submission)
        question, button = confirm
        return render(
            request,
            "uploads/submission_confirm.html",
            {"submission": submission, "question": question, "button": button},
            status=200 if request.method == "GET" else 400,
        )
    if not allowed(request.user, submission):
        messages.error(request, refused)
    elif act(submission):
        messages.success(request, done)
    else:
        messages.error(request, too_late)
    return redirect(submission)


@login_required
@require_http_methods(["GET", "POST"])
def submission_cancel(request, pk):
    return _act_on_one(
        request,
        pk,
        allowed=can_cancel,
        refused="Only a waiting submission can be cancelled, by its submitter "
        "or a manager of its team.",
        act=_moved(services.cancel, request.user),
        done="Cancelled.",
        too_late="It is no longer waiting: it could not be cancelled.",
        confirm=CONFIRM["cancel"],
    )


def _moved(act, user):
    """act(user, submission) as a yes/no: False when the submission moved on meanwhile."""

    def attempt(submission):
        try:
            act(user, submission)
        except TransitionError:
            return False
        return True

    return attempt


@login_required
@require_http_methods(["GET", "POST"])
def submission_resend(request, pk):
    """An administrator sends a failed or needs-review submission again, once confirmed."""
    return _act_on_one(
        request,
        pk,
        allowed=can_resend,
        refused="Only an administrator can send a failed or needs-review submission again.",
        act=_moved(services.resend, request.user),
        done="Queued to be sent again.",
        too_late="It moved on meanwhile: it was not sent again.",
        confirm=CONFIRM["resend"],
    )


@login_required
@require_http_methods(["GET", "POST"])
def submission_mark_failed(request, pk):
    """An administrator settles a needs-review submission as failed, once confirmed."""
    return _act_on_one(
        request,
        pk,
        allowed=can_mark_failed,
        refused="Only an administrator can mark failed a submission that needs review.",
        act=_moved(services.mark_failed, request.user),
        done="Marked failed.",
        too_late="It moved on meanwhile: it was not marked failed.",
        confirm=CONFIRM["mark_failed"],
    )


@login_required
@require_POST
def submission_move_to_front(request, pk):
    """A team manager puts a waiting submission ahead of the people's turns in the team's line."""
    return _act_on_one(
        request,
        pk,
        allowed=can_move_to_front,
        refused="Only a manager of its team can move a waiting submission to the front of "
        "the team’s line, once.",
        act=lambda submission: bool(services.move_to_front(request.user, [submission])),
        done="Moved to the front of the team’s line.",
        too_late="It is no longer waiting: it was not moved.",
    )


@login_required
def person_settings(request):
    """The person's own settings: time zone and notifications."""
    form = PersonSettingsForm(request.POST or None, instance=PersonSettings.of(request.user))
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your settings are saved.")
        return redirect("person_settings")
    return render(request, "uploads/person_settings.html", {"form": form})
