"""Who may see what: each helper returns the object or raises 404 (never 403: no hint it exists).

Every view that shows submissions, teams or people goes through these. And who may
change what: a viewer (Membership.Role.VIEWER) sees what a member sees, and every view
that changes something asks `require_writer` (or gets its object through a `_to_change`
helper), which answers 403 with the reason: the viewer knows the object exists. Those
rules (`require_writer`, `can_cancel`, ...) live in uploads/permissions.py, shared with
the bulk actions that the batches worker runs.
"""

from django.contrib.auth import get_user_model
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404

from ..models import Batch, Membership, Status, Submission, Team
from ..permissions import (  # noqa: F401 (imported from here by the views and the API)
    ReadOnly,
    can_cancel,
    can_move_to_front,
    manages,
    require_writer,
    writes_in,
)
from ..services import MARKABLE_FAILED, RESENDABLE


def get_submission_for_user(user, pk):
    """The submission, if the user may see it; 404 otherwise (not 403: no hint it exists)."""
    return get_object_or_404(
        Submission.objects.visible_to(user).select_related("team", "submitter").distinct(),
        pk=pk,
    )


def get_submission_to_change(user, pk):
    """The submission, if the user may see it (404 otherwise) and change things in its
    team (403 for a viewer of it)."""
    submission = get_submission_for_user(user, pk)
    require_writer(user, submission.team_id)
    return submission


def get_submissions_to_change(user, pks):
    """The submissions, if the user may see every one of them (404 otherwise) and change
    things in each of their teams (403 for a viewer of any of them)."""
    found = get_submissions_for_user(user, pks)
    for team_id in sorted({submission.team_id for submission in found}):
        require_writer(user, team_id)
    return found


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


def manages_any(user):
    """True for a manager of some team, or a superuser: the list offers them "move to front"."""
    return user.is_superuser or (
        Membership.objects.filter(user=user, role=Membership.Role.MANAGER).exists()
    )


def get_batch_for_user(user, pk):
    """A batch, for the person who made it (or a superuser); 404 otherwise."""
    batches = Batch.objects.all() if user.is_superuser else Batch.objects.filter(created_by=user)
    return get_object_or_404(batches.select_related("created_by"), pk=pk)


def get_batch_to_change(user, pk):
    """A batch of one's own (404 otherwise), for someone who may still submit (403 for a
    person who is only a viewer now: queueing or cancelling a batch is submitting)."""
    batch = get_batch_for_user(user, pk)
    require_writer(user)
    return batch


def can_change_batch(user, batch):
    """Queueing a batch or cancelling what of it waits: the person who made it (unless they
    are only a viewer now), or a superuser."""
    if user.is_superuser:
        return True
    if batch.created_by_id != user.pk:
        return False
    try:
        require_writer(user)
    except ReadOnly:
        return False
    return True


def can_resend(user, submission):
    """Sending again costs credits: administrators only, for failed or needs review."""
    return user.is_superuser and submission.status in RESENDABLE


def can_mark_failed(user, submission):
    """Settling a needs-review submission as failed: administrators only."""
    return user.is_superuser and submission.status in MARKABLE_FAILED


def can_submit_again(submission):
    """The form, prefilled from it, for what ended without being processed."""
    return submission.status in {Status.FAILED, Status.PARSE_ERROR, Status.CANCELLED}
