"""Acting on many submissions of the list at once: cancel them, or move them to the front.

The rows are the ticked ones (`ids`) or every row the list's filters match (`all`, the
filters in the query string). One question first; then each row is checked as the single
action checks it (`can_cancel`, `can_move_to_front`) and changed through the same service,
so the one status writer and its locks are kept. A few rows are handled in the request;
more by one task on the batches queue, never the sender's.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import services
from ..models import TransitionError
from ..selectors import managed_team_ids, require_writer, visible_submissions
from .access import can_cancel, can_move_to_front
from .pages import _filter_form

# At most this many rows are changed in the request (a page of the list); more go to a task.
AT_ONCE = 25
# A selection larger than this is refused: narrow the filters first.
MOST = 10_000
# Rows the task locks and changes together when moving to the front.
CHUNK = 200


@dataclass(frozen=True)
class Action:
    allowed: object  # allowed(user, submission, manager=...)
    title: str  # "{n}" is the number selected
    question: str
    button: str
    done: str  # "{n}" is the number changed


ACTIONS = {
    "cancel": Action(
        can_cancel,
        "Cancel {n}?",
        "Those you may cancel (your own, or your team’s as its manager) "
        "leave the queue and are not sent; the others stay as they are.",
        "Yes, cancel them",
        "Cancelled {n}.",
    ),
    "front": Action(
        can_move_to_front,
        "Move {n} to the front of their team’s line?",
        "Only waiting ones of teams you manage are moved; the others stay as they are.",
        "Move them to the front",
        "Moved {n} to the front of their team’s line.",
    ),
}


def submission_word(n):
    return f"{n} submission{'s' if n != 1 else ''}"


def _selection(request, form):
    """The submissions asked for: the ticked ids, or all the filters match (visible ones)."""
    visible = visible_submissions(request.user)
    if request.POST.get("all") == "1":
        return form.filter(visible)
    ids = [int(pk) for pk in request.POST.getlist("ids") if pk.isdigit() and int(pk) < 2**63]
    return visible.filter(pk__in=ids)


@login_required
@require_POST
def submission_bulk(request):
    """Ask once, then act: on a few rows at once, on many in the background."""
    require_writer(request.user)  # a person who only views is told so (each row is checked too)
    action = ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        return HttpResponseBadRequest("action: cancel or front.", content_type="text/plain")
    form = _filter_form(request)
    back = reverse("submission_list") + ("?" + request.GET.urlencode() if request.GET else "")
    if request.POST.get("all") == "1" and not form.is_valid():
        # An invalid filter narrows nothing on the list: here it would select too much.
        messages.error(request, "Some filters are not valid: correct them first.")
        return redirect(back)
    pks = list(_selection(request, form).order_by().values_list("pk", flat=True)[: MOST + 1])
    if not pks:
        messages.error(request, "Tick the submissions to act on first.")
        return redirect(back)
    if len(pks) > MOST:
        messages.error(request, f"More than {MOST} submissions: narrow the filters first.")
        return redirect(back)
    n = submission_word(len(pks))
    if not request.POST.get("confirmed"):
        context = {
            "title": action.title.format(n=n),
            "question": action.question,
            "button": action.button,
            "back": back,
            "carry": {"action": request.POST["action"], "all": request.POST.get("all", "")},
            "ids": request.POST.getlist("ids"),
        }
        return render(request, "uploads/bulk_confirm.html", context)
    name = request.POST["action"]
    if len(pks) <= AT_ONCE:
        changed, left = act(request.user, name, pks)
        messages.success(request, _outcome(action, changed, left))
    else:
        from ..tasks import start_bulk  # tasks import this module's `act`: imported late

        start_bulk(name, request.user.pk, pks)
        messages.success(
            request,
            f"{n[0].upper()}{n[1:]} are being handled in the background; "
            "the list shows each as it changes.",
        )
    return redirect(back)


def _outcome(action, changed, left):
    message = action.done.format(n=submission_word(changed))
    if left:
        message += f" {submission_word(left)} left as they are (not yours to change, or no "
        message += "longer waiting)."
    return message


def act(user, name, pks):
    """Do `name` to each of these submissions the user may act on; (changed, left as is).

    Run in the request for a few, by the batches worker for many. Access is checked per
    row, as the single action checks it, with the person's managed teams read once.
    """
    allowed = ACTIONS[name].allowed
    managed = managed_team_ids(user)
    changed = 0
    candidates = visible_submissions(user).filter(pk__in=pks).order_by("pk")
    chunk = []
    for submission in candidates.iterator(chunk_size=CHUNK):
        manager = user.is_superuser or submission.team_id in managed
        if not allowed(user, submission, manager=manager):
            continue
        if name == "cancel":
            changed += _cancel_one(user, submission)
            continue
        chunk.append(submission)
        if len(chunk) == CHUNK:
            changed += len(services.move_to_front(user, chunk))
            chunk = []
    if chunk:
        changed += len(services.move_to_front(user, chunk))
    return changed, len(set(pks)) - changed


def _cancel_one(user, submission):
    """1 when cancelled; 0 when it was claimed for sending meanwhile."""
    try:
        services.cancel(user, submission)
    except TransitionError:
        return 0
    return 1


def act_for(user_id, name, pks):
    """The task's side: the person as they are now (still active), then `act`."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return 0, len(pks)
    return act(user, name, pks)
