import hmac
import io
import json
import logging
import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.db.models import F
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    QueryDict,
)
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.http.response import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from memories_portal.client_ip import client_ip

from . import export, health, limits, queue, sending, stats
from .filters import ANYONE, SubmissionFilterForm
from .forms import SubmissionForm
from .models import (
    API_STATUS_TO_STATUS,
    CallbackLimitReached,
    Event,
    Membership,
    Status,
    Submission,
    Team,
    TransitionError,
    UploadGate,
    hash_token,
)
from .pagination import CappedPaginator
from .probe import format_size
from .tasks import wake_sender

logger = logging.getLogger(__name__)

PAGE_SIZE = 25
# The status fragment answers for at most this many submissions per request.
MAX_LIVE_IDS = 100


def get_submission_for_user(user, pk):
    """The submission, if the user may see it; 404 otherwise (not 403: no hint it exists)."""
    return get_object_or_404(
        Submission.objects.visible_to(user).select_related("team", "submitter").distinct(),
        pk=pk,
    )


def get_submissions_for_user(user, pks):
    """The submissions, if the user may see every one of them; 404 otherwise."""
    possible = [pk for pk in set(pks) if 0 < pk < 2**63]  # others cannot exist (nor be bound)
    found = list(
        Submission.objects.visible_to(user)
        .filter(pk__in=possible)
        .select_related("team")
        .distinct()
    )
    if len(found) != len(set(pks)):
        raise Http404("No such submissions.")
    return found


def get_team_for_user(user, slug):
    """The team, if the user is in it (or a superuser), with `.can_see_members`; 404 otherwise.

    Managers and superusers see the per-member breakdown; members see the team's totals.
    """
    if user.is_superuser:
        team = get_object_or_404(Team, slug=slug)
        team.can_see_members = True
        return team
    team = get_object_or_404(
        Team.objects.filter(memberships__user=user).annotate(role=F("memberships__role")),
        slug=slug,
    )
    team.can_see_members = team.role == Membership.Role.MANAGER
    return team


def get_dashboard_user(user, pk):
    """The user whose dashboard is asked for: oneself, or anyone for a superuser; 404 otherwise."""
    if not (user.is_superuser or user.pk == pk):
        raise Http404("No such user.")
    return get_object_or_404(get_user_model(), pk=pk)


def can_cancel(user, submission):
    if submission.status != Status.QUEUED:
        return False
    if user.is_superuser or submission.submitter_id == user.pk:
        return True
    return Membership.objects.filter(
        user=user, team_id=submission.team_id, role=Membership.Role.MANAGER
    ).exists()


def with_places(submissions):
    """Set .place and .eta (place in the queue, estimated send time) on waiting ones."""
    submissions = list(submissions)
    places = queue.places(s.pk for s in submissions if s.status == Status.QUEUED)
    for submission in submissions:
        submission.place, submission.eta = places.get(submission.pk, (None, None))
    return submissions


def live_ids(*groups):
    """The ids of the shown submissions that may still change: the page polls for these."""
    return [s.pk for group in groups for s in group if not s.is_final]


def _dashboard(request, submissions, *, title, list_query, team=None):
    members = stats.member_breakdown(team) if team and team.can_see_members else None
    failures = stats.recent_failures(submissions)
    waiting = sorted(with_places(stats.oldest_waiting(submissions)), key=lambda s: s.place or 0)
    return render(
        request,
        "uploads/dashboard.html",
        {
            "title": title,
            "team": team,
            "figures": stats.figures(submissions),
            "failures": failures,
            "waiting": waiting,
            "members": members,
            "list_query": list_query,
            "live_ids": live_ids(waiting),
        },
    )


@login_required
def home(request):
    """My dashboard: my submissions in my teams."""
    submissions = Submission.objects.visible_to(request.user).filter(submitter=request.user)
    return _dashboard(request, submissions, title="My dashboard", list_query={})


@login_required
def user_dashboard(request, pk):
    """Anyone's dashboard, for superusers (and one's own)."""
    person = get_dashboard_user(request.user, pk)
    if person == request.user:
        return redirect("home")
    return _dashboard(
        request,
        Submission.objects.filter(submitter=person),
        title=f"{person.get_username()}’s dashboard",
        list_query={"submitter": person.pk},
    )


@login_required
def team_dashboard(request, slug):
    team = get_team_for_user(request.user, slug)
    return _dashboard(
        request,
        Submission.objects.filter(team=team),
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
    submissions = form.filter(
        Submission.objects.visible_to(request.user).select_related("team", "submitter")
    )
    page = CappedPaginator(submissions, PAGE_SIZE).get_page(request.GET.get("page"))
    with_places(page.object_list)
    return render(
        request,
        "uploads/submission_list.html",
        {"page": page, "form": form, "live_ids": live_ids(page.object_list)},
    )


@login_required
def submission_export(request):
    """The list's current selection (all pages) as a CSV download."""
    form = _filter_form(request)
    if not form.is_valid():
        return HttpResponseBadRequest(
            "The filters are not valid:\n" + form.errors.as_text(), content_type="text/plain"
        )
    submissions = form.filter(Submission.objects.visible_to(request.user))
    response = StreamingHttpResponse(
        export.csv_lines(submissions, base_url=request.build_absolute_uri("/")[:-1]),
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


@login_required
def submission_new(request):
    form = SubmissionForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with transaction.atomic():
            submission = Submission.objects.create(
                team=data["team"],
                submitter=request.user,
                url=data["url"],
                datetime_taken=data["datetime_taken"],
                camera_model=data["camera_model"],
                latitude=data["latitude"],
                longitude=data["longitude"],
                tags=data["tags"],
                retain_original_video=data["retain_original_video"],
                video_transcription_prompt=data["video_transcription_prompt"],
                confirm_public=data["confirm_public"],
                probe=data.get("probe", {}),
            )
            submission.record(Event.Kind.CREATED, "Submitted.", actor=request.user)
            # Only once the row is committed: a rolled-back submission leaves no task.
            transaction.on_commit(wake_sender)
        messages.success(request, "Submitted. It waits for its turn to be sent to memories.ai.")
        problem = sending.sending_problem()
        if problem:
            messages.warning(request, problem)
        return redirect(submission)
    if not form.fields["team"].queryset.exists():
        messages.warning(request, "You are not in any team yet; ask an administrator to add you.")
    return render(request, "uploads/submission_form.html", {"form": form})


@login_required
def submission_detail(request, pk):
    submission = get_submission_for_user(request.user, pk)
    with_places([submission])
    events = submission.events.select_related("actor").order_by("created_at", "id")
    return render(
        request,
        "uploads/submission_detail.html",
        {
            "submission": submission,
            "events": events,
            "can_cancel": can_cancel(request.user, submission),
            "probe_facts": probe_facts(submission.probe),
            "live_ids": live_ids([submission]),
        },
    )


def probe_facts(probe):
    """What the URL check learned, as (label, value) pairs for the page."""
    if not probe:
        return []
    if not probe.get("reachable"):
        return [("Reachable", f"Not from here ({probe.get('problem', '')}); confirmed public")]
    facts = [("Final URL", probe.get("final_url")), ("Type", probe.get("content_type"))]
    if probe.get("is_playlist"):
        facts += [
            ("Playlist", f"{probe.get('variant_count') or 0} variant(s), "
             f"{probe.get('segment_count') or 0} segment(s)"),
            ("Duration", f"{probe['duration']:.0f} s" if probe.get("duration") else None),
        ]  # fmt: skip
        if probe.get("estimated_size"):
            facts.append(
                ("Estimated size", f"{format_size(probe['estimated_size'])} "
                 f"({probe.get('estimate_method', '')})")
            )  # fmt: skip
    elif probe.get("size") is not None:
        facts.append(("Size", format_size(probe["size"])))
    return [(label, value) for label, value in facts if value]


@login_required
@require_POST
def submission_cancel(request, pk):
    submission = get_submission_for_user(request.user, pk)
    if not can_cancel(request.user, submission):
        messages.error(
            request,
            "Only a waiting submission can be cancelled, by its submitter "
            "or a manager of its team.",
        )
        return redirect(submission)
    try:
        submission.transition(
            Status.CANCELLED, kind=Event.Kind.CANCELLED, message="Cancelled.", actor=request.user
        )
    except TransitionError:
        messages.error(request, "It is no longer waiting: it could not be cancelled.")
    else:
        messages.success(request, "Cancelled.")
    return redirect(submission)


@login_required
@require_POST
def sending_resume(request):
    """Resume sending after an account-level pause (bad key, no credits): superusers only."""
    if not request.user.is_superuser:
        raise Http404
    UploadGate.resume()
    transaction.on_commit(wake_sender)
    messages.success(request, "Sending resumed.")
    return redirect("home")


# --- memories.ai's callback ----------------------------------------------------

VIDEO_NO = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _callback_answer(status, **body):
    return JsonResponse(body, status=status)


def _too_many(window_seconds):
    response = _callback_answer(429, error="Too many callbacks.")
    response["Retry-After"] = str(limits.seconds_left(window_seconds))
    return response


# CSRF-exempt: memories.ai cannot send a CSRF token. The unguessable token in
# the URL is the authentication, since memories.ai does not sign callbacks.
@csrf_exempt
@require_POST
def memories_callback(request, token):
    limit = settings.CALLBACK_MAX_BODY_BYTES
    # Refused before the body is read: the declared length is all it takes.
    if _declared_length(request) > limit:
        return _callback_answer(413, error="Body too large.")
    # The body is read and understood before any transaction: a caller that
    # sends it slowly holds only its own connection, never the database.
    try:
        body = _read_body(request, limit)
    except BodyUnreadable as exc:
        return _callback_answer(exc.status, error=exc.reason)
    if len(body) > limit:
        return _callback_answer(413, error="Body too large.")
    try:
        api_status, video_no = _callback_fields(request, body)
    except BodyUnreadable as exc:
        api_status, video_no, refusal = None, None, exc
    else:
        refusal = None
    digest = hash_token(token) if 20 <= len(token) <= 100 else None
    # The count for the token and the change it brings share one transaction:
    # one write, and on SQLite one turn of the write lock, per callback.
    with transaction.atomic():
        try:
            submission = _submission_for_token(digest)
        except CallbackLimitReached:
            # A token called far more often than a video's life needs: no more work for it.
            return _too_many(3600)
        if submission is not None:
            if refusal is not None:
                return _callback_answer(refusal.status, error=refusal.reason)
            try:
                result = submission.apply_api_status(
                    api_status, video_no, source="callback", locked=True
                )
            except ValueError as exc:
                return _callback_answer(409, error=str(exc))
            return _callback_answer(200, ok=True, result=result)
    # A known token is always served, so memories.ai is never refused by this;
    # an address that keeps guessing is told to slow down.
    if limits.unknown_token_over_limit(client_ip(request)):
        return _too_many(60)
    return _callback_answer(404, error="Unknown callback.")


class BodyUnreadable(Exception):
    """The callback's body cannot be read or understood: answered with `status` and `reason`."""

    def __init__(self, reason, status=400):
        super().__init__(reason)
        self.reason, self.status = reason, status


# Bodies are read in pieces of at most this many bytes (and never more than the limit + 1).
READ_PIECE_BYTES = 64 * 1024


def _read_body(request, limit):
    """At most `limit` + 1 bytes of the body: one more than the limit means too large.

    A chunked body declares no length, so Django's request stream reads it as
    empty; it is read from the server's input instead, up to its end, when the
    server decodes chunks and ends the input there (gunicorn does, and says so
    with `wsgi.input_terminated`). A server that does not would leave the read
    waiting for data that never comes: 411, send a Content-Length.
    """
    if _is_chunked(request):
        if not request.META.get("wsgi.input_terminated"):
            raise BodyUnreadable("Send a Content-Length: this server reads no chunked bodies.", 411)
        stream = request.META["wsgi.input"]
    else:
        stream = request
    pieces, size = [], 0
    while size <= limit:
        try:
            piece = stream.read(min(READ_PIECE_BYTES, limit + 1 - size))
        except (OSError, ValueError) as exc:
            # A broken chunk encoding, or the caller went away mid-body.
            raise BodyUnreadable(f"The body could not be read: {exc}.") from exc
        if not piece:
            break
        pieces.append(piece)
        size += len(piece)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _is_chunked(request):
    return not request.META.get("CONTENT_LENGTH") and "chunked" in (
        request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    )


def _declared_length(request):
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _submission_for_token(digest):
    """The token's submission, counted and locked; None for an unknown token."""
    if digest is None:
        return None
    submission = Submission.take_callback(digest, settings.CALLBACK_CALLS_PER_TOKEN_PER_HOUR)
    # The lookup is by hash, so timing reveals nothing about the token; the
    # constant-time comparison keeps it that way if the lookup ever changes.
    if submission is None or not hmac.compare_digest(submission.callback_token_hash, digest):
        return None
    return submission


def _callback_fields(request, body):
    """(status, videoNo) from the body, checked; BodyUnreadable says what is wrong."""
    payload = _callback_payload(request, body)
    api_status = payload.get("status")
    video_no = payload.get("videoNo", "")
    if not isinstance(api_status, str) or api_status not in API_STATUS_TO_STATUS:
        raise BodyUnreadable("status must be UNPARSE, PARSE or PARSE_ERROR.")
    if video_no is None:
        video_no = ""
    # Letters, digits and a little punctuation: nothing a database refuses (NUL)
    # or a page shows oddly reaches the timeline.
    if isinstance(video_no, bool) or not isinstance(video_no, str | int):
        raise BodyUnreadable("videoNo must be a short string.")
    video_no = str(video_no)
    if video_no and not VIDEO_NO.fullmatch(video_no):
        raise BodyUnreadable("videoNo must be a short string.")
    return api_status, video_no


SEND_JSON = 'Send JSON {"videoNo": ..., "status": ...}.'


def _callback_payload(request, body):
    """The callback's fields from a JSON body or form fields, as a dict."""
    if request.content_type == "application/json" or body[:1] in (b"{", b"["):
        try:
            payload = json.loads(body)
        except UnicodeDecodeError as exc:
            raise BodyUnreadable(f"The body is not UTF-8 text. {SEND_JSON}") from exc
        except ValueError as exc:
            raise BodyUnreadable(f"The body is not valid JSON ({exc}). {SEND_JSON}") from exc
        except RecursionError as exc:
            raise BodyUnreadable(f"The JSON nests too deeply. {SEND_JSON}") from exc
        if not isinstance(payload, dict):
            raise BodyUnreadable(f"The JSON is not an object. {SEND_JSON}")
        return payload
    try:
        fields = _form_fields(request, body)
    except (MultiPartParserError, SuspiciousOperation, ValueError) as exc:
        raise BodyUnreadable(f"The form data could not be read ({exc}). {SEND_JSON}") from exc
    return {key: fields.get(key) for key in ("videoNo", "status") if key in fields}


def _form_fields(request, body):
    """Form fields from the body already read, as Django would find them in request.POST."""
    if request.content_type == "application/x-www-form-urlencoded":
        return QueryDict(body, encoding=request.encoding)
    if request.content_type == "multipart/form-data":
        meta = {**request.META, "CONTENT_LENGTH": str(len(body))}
        fields, _files = MultiPartParser(
            meta, io.BytesIO(body), request.upload_handlers, request.encoding
        ).parse()
        return fields
    return {}


# --- operations ------------------------------------------------------------------


# No login: load balancers and monitors call it. It shows no secrets, only
# whether the parts work and how far behind the queue is.
@never_cache
@require_safe
def healthz(request):
    report = health.report()
    return JsonResponse(report, status=200 if report["ok"] else 503)
