"""A team manager moves a waiting submission to the front of the team's line."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from tests.factories import SubmissionFactory
from uploads.models import Event, Status


def line_of(team, alice, bob):
    t0 = timezone.now() - timedelta(hours=1)
    return [
        SubmissionFactory(team=team, submitter=person, created_at=t0 + timedelta(minutes=i))
        for i, person in enumerate([alice, alice, bob, alice])
    ]


def test_a_manager_moves_one_to_the_front_and_it_is_on_its_timeline(
    client, manager, alice, bob, team_a
):
    last = line_of(team_a, alice, bob)[-1]
    client.force_login(manager)
    before = client.get(last.get_absolute_url()).content.decode()
    assert "Move to the front of the team’s line" in before
    assert "place 4," in before
    response = client.post(reverse("submission_move_to_front", args=[last.pk]), follow=True)
    page = response.content.decode()
    assert "Moved to the front of the team’s line." in page
    assert "place 1 (moved to the front)" in page
    assert "At the front of the team’s line" in page
    event = last.events.get(kind=Event.Kind.MOVED)
    assert event.actor == manager and event.from_status == event.to_status == Status.QUEUED
    assert "Move to the front of the team’s line</button>" not in page  # once is enough


def test_members_cannot_move_even_their_own(client, alice, bob, team_a):
    last = line_of(team_a, alice, bob)[-1]
    client.force_login(alice)
    assert "Move to the front" not in client.get(last.get_absolute_url()).content.decode()
    response = client.post(reverse("submission_move_to_front", args=[last.pk]), follow=True)
    assert "Only a manager of its team can move" in response.content.decode()
    last.refresh_from_db()
    assert last.fronted_at is None and not last.events.filter(kind=Event.Kind.MOVED).exists()


def test_one_no_longer_waiting_is_not_moved(client, manager, alice, team_a):
    done = SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    client.force_login(manager)
    response = client.post(reverse("submission_move_to_front", args=[done.pk]), follow=True)
    assert response.status_code == 200
    assert "Only a manager of its team can move" in response.content.decode()
    assert not done.events.exists()


def test_a_superuser_moves_any_teams(client, superuser, alice, bob, team_a):
    last = line_of(team_a, alice, bob)[-1]
    client.force_login(superuser)
    client.post(reverse("submission_move_to_front", args=[last.pk]))
    last.refresh_from_db()
    assert last.fronted_at is not None
