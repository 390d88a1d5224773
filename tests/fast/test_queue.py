"""Fair order between teams, and the places shown to users."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import SubmissionFactory, TeamFactory, UserFactory
from uploads.models import Status, Submission, UploadGate
from uploads.sending import queue
from uploads.sending import sender as sending


def queue_up(team, user, n, start):
    return [
        SubmissionFactory(team=team, submitter=user, created_at=start + timedelta(seconds=i))
        for i in range(n)
    ]


def send_order(n):
    order = []
    for _ in range(n):
        submission = sending.claim_next_in_line()
        if submission is None:
            break
        order.append(submission.pk)
    return order


def test_a_team_with_one_url_is_not_stuck_behind_a_team_with_fifty(db):
    user = UserFactory()
    team_a, team_b = TeamFactory(), TeamFactory()
    t0 = timezone.now() - timedelta(hours=1)
    queue_up(team_a, user, 50, t0)
    [b_only] = queue_up(team_b, user, 1, t0 + timedelta(minutes=5))
    assert b_only.pk in send_order(2)


def test_within_a_team_the_oldest_goes_first(db):
    user, team = UserFactory(), TeamFactory()
    items = queue_up(team, user, 4, timezone.now() - timedelta(hours=1))
    assert send_order(4) == [s.pk for s in items]


def test_teams_take_turns_served_longest_ago_first(db):
    user = UserFactory()
    a, b, c = TeamFactory(), TeamFactory(), TeamFactory()
    t0 = timezone.now() - timedelta(hours=1)
    a_items = queue_up(a, user, 3, t0)
    b_items = queue_up(b, user, 2, t0 + timedelta(minutes=1))
    c_items = queue_up(c, user, 1, t0 + timedelta(minutes=2))
    expected = [a_items[0], b_items[0], c_items[0], a_items[1], b_items[1], a_items[2]]
    assert send_order(6) == [s.pk for s in expected]


@pytest.mark.parametrize("already_sent", [0, 1, 2])
def test_the_places_shown_are_the_order_the_queue_will_send(db, already_sent):
    user = UserFactory()
    teams = [TeamFactory() for _ in range(3)]
    t0 = timezone.now() - timedelta(hours=1)
    for i, (team, n) in enumerate(zip(teams, [5, 2, 3], strict=True)):
        queue_up(team, user, n, t0 + timedelta(minutes=i))
    send_order(already_sent)
    waiting = list(Submission.objects.filter(status=Status.QUEUED).values_list("pk", flat=True))
    places = queue.places(waiting)
    predicted = sorted(waiting, key=lambda pk: places[pk][0])
    assert sorted(p for p, _ in places.values()) == list(range(1, len(waiting) + 1))
    assert send_order(len(waiting)) == predicted


def test_estimated_send_times_follow_the_upload_rate(db, settings):
    settings.MEMORIES_UPLOADS_PER_MINUTE = 1
    user, team = UserFactory(), TeamFactory()
    items = queue_up(team, user, 3, timezone.now() - timedelta(minutes=5))
    places = queue.places([s.pk for s in items])
    first, third = places[items[0].pk][1], places[items[2].pk][1]
    assert third - first == 2 * UploadGate.interval()
    assert timedelta(minutes=2) <= third - first <= timedelta(minutes=2.05)


def test_only_waiting_submissions_have_a_place(db):
    user, team = UserFactory(), TeamFactory()
    sent = SubmissionFactory(team=team, submitter=user, status=Status.PROCESSING)
    assert queue.places([sent.pk]) == {}
