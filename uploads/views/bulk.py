"""Acting on many submissions of the list at once: cancel them, or move them to the front.

The rows are the ticked ones (`ids`) or every row the list's filters match (`all`, the
filters in the query string). One question first; then each row is checked as the single
action checks it and changed through the same service (uploads/bulk.py), so the one
status writer and its locks are kept. A few rows are handled in the request; more by one
task on the batches queue, never the sender's.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import bulk
from ..selectors import require_writer, visible_submissions
from ..wake import start_bulk
from .pages import _filter_form

# At most this many rows are changed in the request (a page of the list); more go to a task.
AT_ONCE = 25
# A selection larger than this is refused: narrow the filters first.
MOST = 10_000


@dataclass(frozen=True)
class Action:
    title: str  # "{n}" is the number selected
    question: str
    button: str
    done: str  # "{n}" is the number changed


ACTIONS = {
    "cancel": Action(
        "Cancel {n}?",
        "Those you may cancel (your own, or your team’s as its manager) "
        "leave the queue and are not sent; the others stay as they are.",
        "Yes, cancel them",
        "Cancelled {n}.",
    ),
    "front": Action(
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
        changed, left = bulk.act(request.user, name, pks)
        messages.success(request, _outcome(action, changed, left))
    else:
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
