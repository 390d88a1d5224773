"""The "Submit many" pages: the form, a batch's page and its live progress, its CSV files."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.http.response import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from .. import services
from ..batches import progress, reading, service
from ..batches.forms import BatchForm, ConfirmForm, LimitedUpload, size_text
from ..models import Batch, Membership, Status
from ..selectors import get_batch_for_user, get_batch_to_change, require_writer, teams_of
from ..sending import sender as sending
from .access import can_change_batch
from .pages import live_ids

PAGE_SIZE = 50
RECENT_BATCHES = 10
# A body too large to be a batch is left unread beyond this (the answer may then reach
# the browser as a reset connection rather than a page: only for absurd uploads).
DRAIN_LIMIT_FACTOR = 4


@login_required
@csrf_exempt  # the upload's limits must be set before the body is read; CSRF is checked below
def batch_new(request):
    """Paste URLs or upload a CSV, with the values they share; the rows are checked later."""
    require_writer(request.user)
    if request.method != "POST":
        return _new_page(request, BatchForm(user=request.user))
    handler = LimitedUpload(settings.BATCH_MAX_FILE_BYTES, request)
    request.upload_handlers.insert(0, handler)
    too_large = _unreadable_body(request)
    if too_large is not None:
        field, message = too_large
        return _new_page(request, BatchForm(user=request.user), {field: message}, status=413)
    return _submit_batch(request, handler)


@csrf_protect
def _submit_batch(request, handler):
    file_problem = None
    if handler.too_large:
        file_problem = (
            f"The file is larger than {size_text(settings.BATCH_MAX_FILE_BYTES)}, the most "
            "one batch takes: split it into several files."
        )
    form = BatchForm(request.POST, request.FILES, user=request.user, file_problem=file_problem)
    if not form.is_valid():
        return _new_page(request, form, status=413 if file_problem else 200)
    batch = service.create(
        request.user,
        rows=form.cleaned_data["rows"],
        source=form.cleaned_data["source"],
        shared=form.shared_values(),
    )
    messages.success(
        request,
        f"{batch.row_count:,} rows received. They are being checked; nothing is queued "
        "until you confirm below.",
    )
    return redirect(batch)


def _unreadable_body(request):
    """(field, message) when the body is too large to read as a batch, else None."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    paste_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if length > settings.BATCH_MAX_FILE_BYTES + paste_limit:
        if length <= DRAIN_LIMIT_FACTOR * settings.BATCH_MAX_FILE_BYTES:
            _drain(request)
        return "file", (
            f"What was sent is {size_text(length)}; a file may be at most "
            f"{size_text(settings.BATCH_MAX_FILE_BYTES)}: split it into several files."
        )
    try:
        request.POST  # noqa: B018 (reads the body, within Django's limit for pasted text)
    except RequestDataTooBig:
        _drain(request)
        return "urls", (
            f"The pasted text is larger than {size_text(paste_limit)}, the most a paste "
            f"takes: upload the URLs as a CSV file instead (up to "
            f"{size_text(settings.BATCH_MAX_FILE_BYTES)})."
        )
    except TooManyFilesSent:
        _drain(request)
        return "file", (
            f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FILES:,} files were sent: "
            "upload one CSV file."
        )
    except TooManyFieldsSent:
        _drain(request)
        return "urls", (
            f"The form sent more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} fields: "
            "paste the URLs one a line, or upload them as a CSV file."
        )
    return None


def _drain(request):
    """Read what is left of the body, so the browser sees the page rather than a reset."""
    try:
        while request.read(64 * 1024):
            pass
    except OSError:
        pass


def _new_page(request, form, problems=None, status=200):
    if not form.fields["team"].queryset.exists():
        messages.warning(request, "You are not in any team yet; ask an administrator to add you.")
    recent = progress.of_each(Batch.objects.filter(created_by=request.user)[:RECENT_BATCHES])
    return render(
        request,
        "uploads/batch_new.html",
        {"form": form, "problems": problems or {}, "recent": recent},
        status=status,
    )


@login_required
def batch_template(request):
    """The CSV template: the header row and one example row (with the person's first team)."""
    team = teams_of(request.user).first()
    example = {**reading.EXAMPLE, "team": team.slug if team else "your-team"}
    return _csv_download(reading.csv_lines([example]), "submit-many-template.csv")


def _csv_download(lines, filename):
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def batch_detail(request, pk):
    batch = get_batch_for_user(request.user, pk)
    show = request.GET.get("show", "all")
    if show not in service.SHOW:
        show = "all"
    rows = service.shown_rows(batch, show).order_by("line")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    submissions = [row.submission for row in page if hasattr(row, "submission")]
    return render(
        request,
        "uploads/batch_detail.html",
        {
            **_progress_context(request, batch),
            "page": page,
            "show": show,
            "filters": [(name, label) for name, (label, _) in service.SHOW.items()],
            "live_ids": live_ids(submissions),
            "problem_statuses": (Status.FAILED, Status.PARSE_ERROR, Status.NEEDS_REVIEW),
        },
    )


@never_cache
def batch_progress(request, pk):
    """The batch's progress, for its page to poll until nothing more can change.

    When the batch moved to another state than the page shows (its check finished), the
    whole page is reloaded (HX-Refresh): its rows and what can be done with them changed.
    """
    if not request.user.is_authenticated:
        # 286 tells htmx to stop polling: a logged-out page must not swap in the login form.
        return HttpResponse(status=286)
    batch = get_batch_for_user(request.user, pk)
    if request.GET.get("state", batch.state) != batch.state:
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "uploads/_batch_progress.html", _progress_context(request, batch))


def _progress_context(request, batch):
    shown, counts = progress.of(batch)
    cancelling = batch.cancel_requested_at is not None and batch.cancel_finished_at is None
    still_moving = batch.state == Batch.State.CHECKING or (
        batch.state == Batch.State.QUEUED and (shown.done < shown.total or cancelling)
    )
    return {
        "batch": batch,
        "progress": shown,
        "counts": counts,
        "polling": still_moving,
        "cancelling": cancelling,
        "can_confirm": batch.state == Batch.State.CHECKED and batch.created_by == request.user,
        "can_cancel": can_change_batch(request.user, batch) and not cancelling,
        "held": service.held_summary(batch) if batch.state == Batch.State.QUEUED else [],
        "can_move_to_front": bool(_movable(request.user, batch)),
        "would_queue": service.would_queue(counts) if batch.state == Batch.State.CHECKED else {},
        "cancel": _cancel_words(counts.get(Status.QUEUED, 0)),
        "finish": progress.estimated_finish(batch),
    }


def _cancel_words(waiting):
    """The batch's cancel button, its question and its answer, for what is waiting."""
    if not waiting:
        return {
            "label": "Leave out the held ones",
            "question": "Leave out the held rows of this batch? They will not be queued.",
            "button": "Yes, leave them out",
        }
    return {
        "label": f"Cancel the {waiting:,} waiting",
        "question": f"Cancel the {waiting:,} waiting submission{pluralize(waiting)} of this "
        "batch? They leave the queue and are not sent, and its held rows are left out. What "
        "is being sent or processed goes on.",
        "button": "Yes, cancel them",
    }


def _movable(user, batch):
    """The batch's waiting submissions this person may move to the front: in the teams they
    manage (all of them for a superuser), not there already."""
    if batch.state != Batch.State.QUEUED:
        return []
    waiting = batch.submissions.filter(status=Status.QUEUED, fronted_at__isnull=True)
    if not user.is_superuser:
        waiting = waiting.filter(
            team__memberships__user=user, team__memberships__role=Membership.Role.MANAGER
        )
    return list(waiting.only("pk"))


@login_required
@require_POST
def batch_confirm(request, pk):
    """Queue the checked rows: nothing of a batch is queued before this."""
    batch = get_batch_to_change(request.user, pk)
    if batch.created_by != request.user:
        messages.error(request, "Only the person who submitted a batch can queue it.")
        return redirect(batch)
    form = ConfirmForm(request.POST)
    form.is_valid()  # two checkboxes: nothing can be invalid
    try:
        counts = service.confirm(batch, request.user, **form.cleaned_data)
    except service.NotConfirmable:
        messages.error(request, "This batch is still being checked, or was queued already.")
        return redirect(batch)
    if counts["queued"]:
        queued = counts["queued"]
        messages.success(request, f"Queued {queued:,} submission{pluralize(queued)}.")
    elif not counts["held"]:
        messages.warning(request, "Nothing was queued: no row of this batch was ready.")
    if counts["held"]:
        messages.warning(
            request,
            f"{counts['held']:,} held: beyond your cap or the team's monthly quota, they join "
            "the queue as room frees.",
        )
    if counts["duplicates"]:
        messages.warning(
            request,
            f"{counts['duplicates']:,} left out: the team already has their URLs "
            "(tick “send again” to send such URLs anyway).",
        )
    if counts["not_in_team"]:
        messages.warning(
            request, f"{counts['not_in_team']:,} left out: you are no longer in their team."
        )
    for problem in sending.sending_problems(batch.rows.values("team_id")):
        messages.warning(request, problem)
    return redirect(batch)


@login_required
@require_http_methods(["GET", "POST"])
def batch_cancel(request, pk):
    """Cancel the batch's waiting submissions (in the background: there may be thousands),
    once confirmed: a GET asks (the page the batch page's <dialog> stands in for), and a
    POST without `confirmed` cancels nothing."""
    batch = get_batch_to_change(request.user, pk)
    if not can_change_batch(request.user, batch):
        messages.error(request, "Only the person who submitted a batch can cancel it.")
    elif request.method == "GET" or not request.POST.get("confirmed"):
        words = _cancel_words(batch.submissions.filter(status=Status.QUEUED).count())
        context = {"title": f"Batch #{batch.pk}", "question": words["question"],
                   "button": words["button"], "back": batch.get_absolute_url()}  # fmt: skip
        status = 200 if request.method == "GET" else 400
        return render(request, "uploads/confirm.html", context, status=status)
    elif service.request_cancel(batch, request.user):
        waiting = batch.submissions.filter(status=Status.QUEUED).count()
        if waiting:
            messages.success(
                request, f"Cancelling the {waiting:,} waiting submissions of this batch."
            )
        else:
            messages.success(request, "The held rows of this batch are left out.")
    else:
        messages.error(request, "Nothing of this batch is waiting: nothing to cancel.")
    return redirect(batch)


@login_required
@require_POST
def batch_move_to_front(request, pk):
    """A manager (or a superuser) puts the batch's waiting submissions ahead of the people's
    turns in their team's line; each one's timeline says so."""
    batch = get_batch_to_change(request.user, pk)
    movable = _movable(request.user, batch)
    if not movable:
        messages.error(
            request,
            "Nothing of this batch can be moved to the front: only a manager of its team can "
            "move its waiting submissions, once.",
        )
        return redirect(batch)
    moved = services.move_to_front(request.user, movable)
    messages.success(
        request, f"Moved {len(moved):,} waiting submissions to the front of their team’s line."
    )
    return redirect(batch)


@login_required
def batch_rows_to_fix(request, pk):
    """The refused rows and those not reached, as given, with what is wrong: a CSV to fix
    and upload again."""
    batch = get_batch_for_user(request.user, pk)
    lines = reading.csv_lines(service.rows_to_fix(batch), problems=True)
    return _csv_download(lines, f"batch-{batch.pk}-rows-to-fix.csv")
