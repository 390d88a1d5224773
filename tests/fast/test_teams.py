import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db.models import ProtectedError

from tests.factories import SubmissionFactory, TeamFactory, UserFactory
from uploads.models import Membership, Team


def test_a_teams_scope_defaults_to_its_slug(db):
    team = TeamFactory(name="Field Ops")
    assert (team.slug, team.unique_id) == ("field-ops", "field-ops")


def test_the_scope_cannot_change_once_a_submission_was_sent_with_it(team_a, alice):
    SubmissionFactory(team=team_a, submitter=alice, unique_id=team_a.unique_id)
    team_a.unique_id = "another-scope"
    with pytest.raises(ValidationError) as exc:
        team_a.full_clean()
    assert "cannot change" in str(exc.value)


def test_the_scope_may_change_before_anything_was_sent(team_a, alice):
    SubmissionFactory(team=team_a, submitter=alice)
    team_a.unique_id = "another-scope"
    team_a.full_clean()


def test_scopes_are_unique_across_teams(team_a):
    with pytest.raises(ValidationError):
        Team(name="Other", slug="other", unique_id=team_a.unique_id).full_clean()


def test_teams_and_users_with_submissions_cannot_be_deleted(team_a, alice):
    SubmissionFactory(team=team_a, submitter=alice)
    with pytest.raises(ProtectedError):
        team_a.delete()
    with pytest.raises(ProtectedError):
        alice.delete()


def test_create_team_creates_and_completes_idempotently(db):
    UserFactory(username="ana")
    UserFactory(username="ben")
    call_command("create_team", "Field Ops", "--unique-id", "field-ops-2", "--member", "ana")
    call_command("create_team", "Field Ops", "--member", "ana", "--manager", "ben")
    team = Team.objects.get(name="Field Ops")
    assert team.unique_id == "field-ops-2"
    roles = dict(team.memberships.values_list("user__username", "role"))
    assert roles == {"ana": Membership.Role.MEMBER, "ben": Membership.Role.MANAGER}


def test_create_team_refuses_unknown_users(db):
    with pytest.raises(CommandError, match="No such user"):
        call_command("create_team", "Field Ops", "--member", "ghost")
    assert not Team.objects.exists()


def test_create_team_adds_viewers(db):
    UserFactory(username="vic")
    call_command("create_team", "Field Ops", "--viewer", "vic")
    membership = Membership.objects.get(user__username="vic")
    assert membership.role == Membership.Role.VIEWER
    assert membership.source == Membership.Source.BY_HAND
