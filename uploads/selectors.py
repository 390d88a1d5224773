"""Reads shared by the pages, the API and services: what a person may see, their teams,
and the places of waiting submissions in the queue.

The helpers named `get_*` return the object or raise 404 (never 403: no hint it exists).
Who may change what is read here too: a viewer (Membership.Role.VIEWER) sees what a
member sees, and `require_writer` answers 403 with the reason (the viewer knows the
object exists).
"""

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import Batch, Membership, Submission, Team
from .sending import queue


def teams_of(user: User) -> QuerySet[Team]:
    """The teams a person may submit to: their active teams, but those they only view."""
    return Team.objects.filter(
        memberships__user=user,
        memberships__role__in=Membership.WRITING_ROLES,
        is_active=True,
    ).order_by("name")


def teams_with_roles(user: User) -> list[Team]:
    """The person's active teams (those they view too), each with `.role`: theirs in it."""
    memberships = Membership.objects.filter(user=user, team__is_active=True)
    teams = []
    for membership in memberships.select_related("team").order_by("team__name"):
        membership.team.role = membership.role  # type: ignore[attr-defined]
        teams.append(membership.team)
    return teams


def team_ids_of(user: User) -> list[int]:
    """The ids of every team the person is in (as a viewer too, active or not)."""
    return list(Membership.objects.filter(user=user).values_list("team_id", flat=True))


def managed_team_ids(user: User) -> set[int]:
    """The ids of the teams the person manages (none for a superuser, who manages all)."""
    if user.is_superuser:
        return set()
    return set(
        Membership.objects.filter(user=user, role=Membership.Role.MANAGER).values_list(
            "team_id", flat=True
        )
    )


def visible_teams(user: User) -> QuerySet[Team]:
    """The teams the person is in, whatever their role (every team, for a superuser)."""
    teams = Team.objects.order_by("name")
    return teams if user.is_superuser else teams.filter(memberships__user=user)


def visible_people(user: User) -> QuerySet[User]:
    """The people of the person's teams, themselves included (everyone, for a superuser)."""
    people = User.objects.order_by("username")
    if user.is_superuser:
        return people
    return people.filter(memberships__team__memberships__user=user).distinct()


def visible_submissions(user: User) -> QuerySet[Submission]:
    """The submissions the person may see: those of their teams (every one, for a superuser)."""
    return Submission.objects.visible_to(user)


def get_submission_for_user(user: User, pk: int) -> Submission:
    """The submission, if the user may see it; 404 otherwise (not 403: no hint it exists)."""
    return get_object_or_404(
        visible_submissions(user).select_related("team", "submitter").distinct(), pk=pk
    )


def get_submission_to_change(user: User, pk: int) -> Submission:
    """The submission, if the user may see it (404 otherwise) and change things in its
    team (403 for a viewer of it)."""
    submission = get_submission_for_user(user, pk)
    require_writer(user, submission.team_id)
    return submission


def get_submissions_for_user(user: User, pks: Iterable[int]) -> list[Submission]:
    """The submissions, if the user may see every one of them; 404 otherwise."""
    wanted = set(pks)
    possible = [pk for pk in wanted if 0 < pk < 2**63]  # others cannot exist (nor be bound)
    found = list(
        visible_submissions(user).filter(pk__in=possible).select_related("team").distinct()
    )
    if len(found) != len(wanted):
        raise Http404("No such submissions.")
    return found


def get_submissions_to_change(user: User, pks: Iterable[int]) -> list[Submission]:
    """The submissions, if the user may see every one of them (404 otherwise) and change
    things in each of their teams (403 for a viewer of any of them)."""
    found = get_submissions_for_user(user, pks)
    for team_id in sorted({submission.team_id for submission in found}):
        require_writer(user, team_id)
    return found


def get_team_for_user(user: User, slug: str) -> Team:
    """The team, if the user is in it (or a superuser), with `.can_see_members`; 404 otherwise.

    Managers and superusers see the per-member breakdown; members see the team's totals.
    """
    if user.is_superuser:
        team = get_object_or_404(Team, slug=slug)
        team.can_see_members = True  # type: ignore[attr-defined]
        return team
    team = get_object_or_404(
        Team.objects.filter(memberships__user=user).annotate(role=F("memberships__role")),
        slug=slug,
    )
    team.can_see_members = team.role == Membership.Role.MANAGER  # type: ignore[attr-defined]
    return team


def get_dashboard_user(user: User, pk: int) -> User:
    """The user whose dashboard is asked for: oneself, or anyone for a superuser; 404 otherwise."""
    if not (user.is_superuser or user.pk == pk):
        raise Http404("No such user.")
    return get_object_or_404(User, pk=pk)


def get_batch_for_user(user: User, pk: int) -> Batch:
    """A batch, for the person who made it (or a superuser); 404 otherwise."""
    batches = Batch.objects.all() if user.is_superuser else Batch.objects.filter(created_by=user)
    return get_object_or_404(batches.select_related("created_by"), pk=pk)


def get_batch_to_change(user: User, pk: int) -> Batch:
    """A batch of one's own (404 otherwise), for someone who may still submit (403 for a
    person who is only a viewer now: queueing or cancelling a batch is submitting)."""
    batch = get_batch_for_user(user, pk)
    require_writer(user)
    return batch


def manages(user: User, team_id: int) -> bool:
    """True for a manager of this team, or a superuser."""
    return user.is_superuser or (
        Membership.objects.filter(user=user, team_id=team_id, role=Membership.Role.MANAGER).exists()
    )


def manages_any(user: User) -> bool:
    """True for a manager of some team, or a superuser: the list offers them "move to front"."""
    return user.is_superuser or (
        Membership.objects.filter(user=user, role=Membership.Role.MANAGER).exists()
    )


class ReadOnly(PermissionDenied):
    """A viewer asked to change something: 403, with the reason (shown on templates/403.html
    and as the API's problem detail)."""


def require_writer(user: User, team_id: int | None = None) -> None:
    """Refuse a viewer (403): in the given team, or, without one, a person whose every
    membership is viewer. Superusers, and people in no team (who get today's "you are not
    in any team yet"), pass; the forms then offer only the teams one may submit to
    (teams_of)."""
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


def writes_in(user: User, team_id: int) -> bool:
    """True unless the user is a viewer of this team (see require_writer)."""
    try:
        require_writer(user, team_id)
    except ReadOnly:
        return False
    return True


def with_places(
    submissions: Iterable[Submission], teams: list[queue.TeamLine] | None = None
) -> list[Submission]:
    """Set .place and .eta (place in the queue, estimated send time) on waiting ones."""
    shown = list(submissions)
    places = queue.places(shown, teams)
    for submission in shown:
        submission.place, submission.eta = places.get(submission.pk, (None, None))  # type: ignore[attr-defined]
    return shown
