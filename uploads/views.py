import hmac
import json
import logging
import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from memories_portal.client_ip import client_ip

from . import health, limits, queue, sending
from .forms import SubmissionForm
from .models import (
    API_STATUS_TO_STATUS,
    Event,
    Membership,
    Status,
    Submission,
    TransitionError,
    hash_token,
)
from .tasks import wake_sender

logger = logging.getLogger(__name__)

PAGE_SIZE = 25


def get_submission_for_user(user, pk):
    """The submission, if the user may see it; 404 otherwise (not 403: no hint it exists)."""
    return get_object_or_404(Submission.objects.visible_to(user).distinct(), pk=pk)


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


@login_required
def home(request):
    return redirect("submission_list")


@login_required
def submission_list(request):
    submissions = (
        Submission.objects.filter(submitter=request.user)
        .select_related("team")
        .order_by("-created_at", "-id")
    )
    status = request.GET.get("status", "")
    if status in Status.values:
        submissions = submissions.filter(status=status)
    page = Paginator(submissions, PAGE_SIZE).get_page(request.GET.get("page"))
    with_places(page.object_list)
    return render(
        request,
        "uploads/submission_list.html",
        {"page": page, "statuses": Status.choices, "current_status": status},
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
        },
    )


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
    # Refused before the body is read: the declared length is all it takes.
    if _declared_length(request) > settings.CALLBACK_MAX_BODY_BYTES:
        return _callback_answer(413, error="Body too large.")
    submission = _submission_for_token(token)
    if submission is None:
        # A known token is always served, so memories.ai is never refused by
        # this; an address that keeps guessing is told to slow down.
        if limits.unknown_token_over_limit(client_ip(request)):
            return _too_many(60)
        return _callback_answer(404, error="Unknown callback.")
    if len(request.body) > settings.CALLBACK_MAX_BODY_BYTES:
        return _callback_answer(413, error="Body too large.")
    # The token's count and the change it brings are written in one transaction:
    # one write, and on SQLite one turn of the write lock, per callback.
    with transaction.atomic():
        # A token called far more often than a video's life needs: no more work for it.
        if limits.token_over_limit(submission.callback_token_hash):
            return _too_many(3600)
        return _apply_callback(request, submission)


def _apply_callback(request, submission):
    payload = _callback_payload(request)
    if payload is None:
        return _callback_answer(400, error='Send JSON {"videoNo": ..., "status": ...}.')
    api_status = payload.get("status")
    video_no = payload.get("videoNo", "")
    if not isinstance(api_status, str) or api_status not in API_STATUS_TO_STATUS:
        return _callback_answer(400, error="status must be UNPARSE, PARSE or PARSE_ERROR.")
    if video_no is None:
        video_no = ""
    # Letters, digits and a little punctuation: nothing a database refuses (NUL)
    # or a page shows oddly reaches the timeline.
    if isinstance(video_no, bool) or not isinstance(video_no, str | int):
        return _callback_answer(400, error="videoNo must be a short string.")
    video_no = str(video_no)
    if video_no and not VIDEO_NO.fullmatch(video_no):
        return _callback_answer(400, error="videoNo must be a short string.")
    try:
        result = submission.apply_api_status(api_status, video_no, source="callback")
    except ValueError as exc:
        return _callback_answer(409, error=str(exc))
    return _callback_answer(200, ok=True, result=result)


def _declared_length(request):
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _submission_for_token(token):
    if not 20 <= len(token) <= 100:
        return None
    digest = hash_token(token)
    # Only what the callback needs: apply_api_status reads the row again, locked.
    submission = (
        Submission.objects.filter(callback_token_hash=digest)
        .only("id", "callback_token_hash")
        .order_by()
        .first()
    )
    # The lookup is by hash, so timing reveals nothing about the token; the
    # constant-time comparison keeps it that way if the lookup ever changes.
    if submission is None or not hmac.compare_digest(submission.callback_token_hash, digest):
        return None
    return submission


def _callback_payload(request):
    """The callback's fields from a JSON body or form fields; None when unreadable."""
    if request.content_type == "application/json" or request.body[:1] in (b"{", b"["):
        try:
            payload = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return None
        return payload if isinstance(payload, dict) else None
    try:
        return {key: request.POST.get(key) for key in ("videoNo", "status") if key in request.POST}
    except (MultiPartParserError, ValueError, UnicodeDecodeError):
        return None


# --- operations ------------------------------------------------------------------


# No login: load balancers and monitors call it. It shows no secrets, only
# whether the parts work and how far behind the queue is.
@never_cache
@require_safe
def healthz(request):
    report = health.report()
    return JsonResponse(report, status=200 if report["ok"] else 503)
