"""Who may see what: each helper returns the object or raises 404 (never 403: no hint it exists).

Every view that shows submissions, teams or people goes through these.
"""

from django.contrib.auth import get_user_model
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404

from ..models import Batch, Membership, Status, Submission, Team
from ..services import MARKABLE_FAILED, RESENDABLE


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


def manages(user, team_id):
    """True for a manager of this team, or a superuser."""
    return user.is_superuser or (
        Membership.objects.filter(user=user, team_id=team_id, role=Membership.Role.MANAGER).exists()
    )


def manages_any(user):
    """True for a manager of some team, or a superuser: the list offers them "move to front"."""
    return user.is_superuser or (
        Membership.objects.filter(user=user, role=Membership.Role.MANAGER).exists()
    )


def can_cancel(user, submission, *, manager=None):
    """Its submitter or a manager of its team, while it waits. `manager`: manages() if known."""
    if submission.status != Status.QUEUED:
        return False
    if submission.submitter_id == user.pk:
        return True
    return manages(user, submission.team_id) if manager is None else manager


def can_move_to_front(user, submission, *, manager=None):
    """A manager of its team, while it waits and is not at the front already."""
    if submission.status != Status.QUEUED or submission.fronted_at is not None:
        return False
    return manages(user, submission.team_id) if manager is None else manager


def get_batch_for_user(user, pk):
    """A batch, for the person who made it (or a superuser); 404 otherwise."""
    batches = Batch.objects.all() if user.is_superuser else Batch.objects.filter(created_by=user)
    return get_object_or_404(batches.select_related("created_by"), pk=pk)


def can_change_batch(user, batch):
    """Queueing a batch or cancelling what of it waits: the person who made it, or a superuser."""
    return user.is_superuser or batch.created_by_id == user.pk


def can_resend(user, submission):
    """Sending again costs credits: administrators only, for failed or needs review."""
    return user.is_superuser and submission.status in RESENDABLE


def can_mark_failed(user, submission):
    """Settling a needs-review submission as failed: administrators only."""
    return user.is_superuser and submission.status in MARKABLE_FAILED


def can_submit_again(submission):
    """The form, prefilled from it, for what ended without being processed."""
    return submission.status in {Status.FAILED, Status.PARSE_ERROR, Status.CANCELLED}
