"""Who may change what: the rules the pages, the API and the bulk actions share.

A viewer (Membership.Role.VIEWER) sees what a member sees but changes nothing:
`require_writer` answers 403 with the reason. Who may see what, and the 404s, are in
uploads/views/access.py, which imports these too.
"""

from django.core.exceptions import PermissionDenied

from .models import Membership, Status


def manages(user, team_id):
    """True for a manager of this team, or a superuser."""
    return user.is_superuser or (
        Membership.objects.filter(user=user, team_id=team_id, role=Membership.Role.MANAGER).exists()
    )


def can_cancel(user, submission, *, manager=None):
    """Its submitter (unless a viewer of its team now) or a manager of its team, while it
    waits. `manager`: manages() if known."""
    if submission.status != Status.QUEUED:
        return False
    if submission.submitter_id == user.pk and (manager or writes_in(user, submission.team_id)):
        return True
    return manages(user, submission.team_id) if manager is None else manager


def can_move_to_front(user, submission, *, manager=None):
    """A manager of its team, while it waits and is not at the front already."""
    if submission.status != Status.QUEUED or submission.fronted_at is not None:
        return False
    return manages(user, submission.team_id) if manager is None else manager


class ReadOnly(PermissionDenied):
    """A viewer asked to change something: 403, with the reason (shown on templates/403.html
    and as the API's problem detail)."""


def require_writer(user, team_id=None):
    """Refuse a viewer (403): in the given team, or, without one, a person whose every
    membership is viewer. Superusers, and people in no team (who get today's "you are not
    in any team yet"), pass; the forms then offer only the teams one may submit to
    (forms.teams_of)."""
    if user.is_superuser:
        return
    memberships = Membership.objects.filter(user=user)
    if team_id is not None:
        memberships = memberships.filter(team_id=team_id)
    roles = set(memberships.values_list("role", flat=True))
    if roles and not roles & set(Membership.WRITING_ROLES):
        raise ReadOnly(
            "You are a viewer in this team: you can see its submissions, dashboards and CSV, "
            "but not submit, cancel or change anything. Ask a manager if you need more."
            if team_id is not None
            else "You are a viewer in your teams: you can see their submissions, dashboards "
            "and CSV, but not submit, cancel or change anything. Ask a manager if you need more."
        )


def writes_in(user, team_id):
    """True unless the user is a viewer of this team (see require_writer)."""
    try:
        require_writer(user, team_id)
    except ReadOnly:
        return False
    return True
