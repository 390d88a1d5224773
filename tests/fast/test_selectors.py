"""What a person may see, and their teams: the reads the pages, the API and services share."""

import pytest
from django.http import Http404

from tests.factories import MembershipFactory, SubmissionFactory, TeamFactory, UserFactory
from uploads import selectors
from uploads.models import Batch, Membership, Status


@pytest.fixture
def world(team_a, team_b, alice, bob, outsider):
    """Alice's and Bob's submissions in team A, Oscar's in team B."""
    return {
        "alices": SubmissionFactory(team=team_a, submitter=alice),
        "bobs": SubmissionFactory(team=team_a, submitter=bob),
        "oscars": SubmissionFactory(team=team_b, submitter=outsider),
    }


def visible(user):
    return set(selectors.visible_submissions(user).values_list("pk", flat=True))


def pks(world, *names):
    return {world[name].pk for name in names}


def test_a_member_sees_every_submission_of_their_team_and_none_of_another(alice, world):
    assert visible(alice) == pks(world, "alices", "bobs")


@pytest.mark.parametrize("person", ["manager", "viewer"])
def test_a_manager_and_a_viewer_see_what_a_member_sees(request, world, person):
    assert visible(request.getfixturevalue(person)) == pks(world, "alices", "bobs")


def test_a_superuser_sees_every_team(superuser, world):
    assert visible(superuser) == pks(world, "alices", "bobs", "oscars")


def test_an_outsider_sees_only_their_own_team(outsider, world):
    assert visible(outsider) == pks(world, "oscars")


def test_someone_in_no_team_sees_nothing(world):
    assert visible(UserFactory(username="nobody")) == set()


def test_one_submission_of_another_team_is_404_not_403(outsider, superuser, world):
    with pytest.raises(Http404):
        selectors.get_submission_for_user(outsider, world["alices"].pk)
    assert selectors.get_submission_for_user(superuser, world["alices"].pk) == world["alices"]


def test_several_are_404_when_any_one_of_them_is_not_visible(alice, world):
    both = [world["alices"].pk, world["bobs"].pk]
    assert {s.pk for s in selectors.get_submissions_for_user(alice, both)} == set(both)
    with pytest.raises(Http404):
        selectors.get_submissions_for_user(alice, [*both, world["oscars"].pk])
    with pytest.raises(Http404):
        selectors.get_submissions_for_user(alice, [world["alices"].pk, 2**63])


def test_a_viewer_sees_a_submission_but_may_not_change_it(viewer, manager, world):
    pk = world["alices"].pk
    assert selectors.get_submission_for_user(viewer, pk).pk == pk
    with pytest.raises(selectors.ReadOnly, match="viewer in this team"):
        selectors.get_submission_to_change(viewer, pk)
    assert selectors.get_submission_to_change(manager, pk).pk == pk


def test_the_teams_one_may_submit_to_leave_out_viewed_and_closed_teams(
    alice, manager, viewer, outsider, superuser, team_a, team_b
):
    closed = TeamFactory(name="Closed", is_active=False)
    MembershipFactory(team=closed, user=alice)
    watched = TeamFactory(name="Watched")
    MembershipFactory(team=watched, user=alice, role=Membership.Role.VIEWER)
    assert list(selectors.teams_of(alice)) == [team_a]
    assert list(selectors.teams_of(manager)) == [team_a]
    assert list(selectors.teams_of(viewer)) == []
    assert list(selectors.teams_of(outsider)) == [team_b]
    # A superuser submits to the teams they are in, like anyone (none here).
    assert list(selectors.teams_of(superuser)) == []


def test_a_persons_teams_with_their_role_include_those_they_view(alice, team_a):
    watched = TeamFactory(name="Watched")
    MembershipFactory(team=watched, user=alice, role=Membership.Role.VIEWER)
    closed = TeamFactory(name="Closed", is_active=False)
    MembershipFactory(team=closed, user=alice)
    teams = selectors.teams_with_roles(alice)
    assert [(team.name, team.role) for team in teams] == [
        ("Alpha", "member"),
        ("Watched", "viewer"),
    ]
    assert set(selectors.team_ids_of(alice)) == {team_a.pk, watched.pk, closed.pk}


def test_a_team_page_shows_its_members_to_its_managers_and_superusers_only(
    alice, manager, viewer, outsider, superuser, team_a
):
    assert selectors.get_team_for_user(manager, team_a.slug).can_see_members
    assert selectors.get_team_for_user(superuser, team_a.slug).can_see_members
    assert not selectors.get_team_for_user(alice, team_a.slug).can_see_members
    assert not selectors.get_team_for_user(viewer, team_a.slug).can_see_members
    with pytest.raises(Http404):
        selectors.get_team_for_user(outsider, team_a.slug)


def test_a_batch_is_seen_by_the_person_who_made_it_and_superusers(alice, bob, superuser):
    batch = Batch.objects.create(created_by=alice, source="pasted", row_count=0)
    assert selectors.get_batch_for_user(alice, batch.pk) == batch
    assert selectors.get_batch_for_user(superuser, batch.pk) == batch
    with pytest.raises(Http404):
        selectors.get_batch_for_user(bob, batch.pk)


def test_a_dashboard_is_ones_own_unless_a_superuser_asks(alice, bob, superuser):
    assert selectors.get_dashboard_user(alice, alice.pk) == alice
    assert selectors.get_dashboard_user(superuser, alice.pk) == alice
    with pytest.raises(Http404):
        selectors.get_dashboard_user(bob, alice.pk)


def test_only_managers_and_superusers_manage(alice, manager, viewer, superuser, team_a, team_b):
    assert selectors.manages(manager, team_a.pk) and selectors.manages_any(manager)
    assert not selectors.manages(manager, team_b.pk)
    assert selectors.manages(superuser, team_b.pk) and selectors.manages_any(superuser)
    for person in (alice, viewer):
        assert not selectors.manages(person, team_a.pk) and not selectors.manages_any(person)


def test_a_viewer_of_every_team_is_refused_writing_anywhere_others_pass(
    alice, viewer, superuser, team_a
):
    with pytest.raises(selectors.ReadOnly, match="viewer in your teams"):
        selectors.require_writer(viewer)
    assert not selectors.writes_in(viewer, team_a.pk)
    for person in (alice, superuser, UserFactory(username="nobody")):
        selectors.require_writer(person)
    assert selectors.writes_in(alice, team_a.pk)


def test_waiting_submissions_get_their_place_and_the_others_none(alice, bob, team_a):
    first = SubmissionFactory(team=team_a, submitter=alice)
    second = SubmissionFactory(team=team_a, submitter=bob)
    done = SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    shown = selectors.with_places([second, done, first])
    assert [s.place for s in shown] == [2, None, 1]
    assert shown[0].eta is not None and shown[1].eta is None


def test_the_teams_and_people_one_may_filter_by_are_those_of_ones_teams(
    alice, bob, manager, viewer, outsider, superuser, team_a, team_b
):
    assert list(selectors.visible_teams(viewer)) == [team_a]
    assert list(selectors.visible_teams(outsider)) == [team_b]
    assert list(selectors.visible_teams(superuser)) == [team_a, team_b]
    team_a_people = {alice, bob, manager, viewer}
    assert set(selectors.visible_people(alice)) == team_a_people
    assert set(selectors.visible_people(outsider)) == {outsider}
    assert set(selectors.visible_people(superuser)) == {*team_a_people, outsider, superuser}


def test_the_teams_one_manages_are_those_one_is_a_manager_of(alice, manager, superuser, team_a):
    assert selectors.managed_team_ids(manager) == {team_a.pk}
    assert selectors.managed_team_ids(alice) == set()
    assert selectors.managed_team_ids(superuser) == set()  # every team: asked otherwise
