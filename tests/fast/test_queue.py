"""Fair order between teams, and the places shown to users."""

from datetime import timedelta

import pytest
from django.db import connection
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


@pytest.mark.parametrize("who", ["teams", "a team's people"])
def test_turns_go_round_served_longest_ago_first(db, who):
    """Between teams (one person each), and between the people of one team."""
    if who == "teams":
        lines = [(TeamFactory(), UserFactory()) for _ in range(3)]
    else:
        team = TeamFactory()
        lines = [(team, UserFactory()) for _ in range(3)]
    t0 = timezone.now() - timedelta(hours=1)
    a, b, c = (
        queue_up(team, user, n, t0 + timedelta(minutes=i))
        for i, ((team, user), n) in enumerate(zip(lines, [3, 2, 1], strict=True))
    )
    expected = [a[0], b[0], c[0], a[1], b[1], a[2]]
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


# --- turns inside a team ---------------------------------------------------------------


def test_one_persons_fifty_do_not_hold_back_a_teammates_one(db):
    team, busy, other = TeamFactory(), UserFactory(), UserFactory()
    t0 = timezone.now() - timedelta(hours=1)
    queue_up(team, busy, 50, t0)
    [theirs] = queue_up(team, other, 1, t0 + timedelta(minutes=30))
    assert queue.places([theirs.pk])[theirs.pk][0] <= 2
    assert theirs.pk in send_order(2)


def test_a_person_who_comes_back_after_a_while_goes_before_those_served_since(db):
    team, ann, ben = TeamFactory(), UserFactory(), UserFactory()
    t0 = timezone.now() - timedelta(hours=1)
    queue_up(team, ann, 1, t0)
    assert len(send_order(1)) == 1  # ann served
    b = queue_up(team, ben, 3, t0 + timedelta(minutes=1))
    send_order(1)  # ben's first
    [a] = queue_up(team, ann, 1, t0 + timedelta(minutes=2))
    # ann was served longest ago: her new one goes before ben's second.
    assert send_order(3) == [a.pk, b[1].pk, b[2].pk]


def test_a_setback_gives_the_person_their_turn_back(db):
    team, ann, ben = TeamFactory(), UserFactory(), UserFactory()
    t0 = timezone.now() - timedelta(hours=1)
    a = queue_up(team, ann, 2, t0)
    b = queue_up(team, ben, 1, t0 + timedelta(minutes=1))
    claimed = sending.claim_next_in_line()
    assert claimed.pk == a[0].pk
    sending._back_in_line(claimed, claimed.claim, "retry", "busy")
    # ann's turn came back: her first goes again before ben's.
    assert send_order(3) == [a[0].pk, b[0].pk, a[1].pk]


def random_queue(rng, n_teams=3, n_people=4, n_items=40, n_fronted=5):
    teams = [TeamFactory() for _ in range(n_teams)]
    people = [UserFactory() for _ in range(n_people)]
    t0 = timezone.now() - timedelta(hours=2)
    items = [
        SubmissionFactory(
            team=rng.choice(teams),
            submitter=rng.choice(people),
            created_at=t0 + timedelta(seconds=rng.randrange(3600)),
            tags=rng.sample(["beach", "Night", "city"], rng.randrange(3)),
        )
        for _ in range(n_items)
    ]
    for item in rng.sample(items, n_fronted):
        Submission.move_to_front([item.pk], actor=None)
    return items


@pytest.mark.parametrize("seed", range(6))
def test_places_follow_the_send_order_with_people_turns_and_fronts(db, seed):
    import random

    rng = random.Random(seed)
    random_queue(rng)
    send_order(rng.randrange(8))  # some turns already taken
    waiting = list(Submission.objects.filter(status=Status.QUEUED).values_list("pk", flat=True))
    places = queue.places(waiting)
    predicted = sorted(waiting, key=lambda pk: places[pk][0])
    assert sorted(p for p, _ in places.values()) == list(range(1, len(waiting) + 1))
    assert send_order(len(waiting)) == predicted


# --- move to the front -------------------------------------------------------------------


def test_moved_to_the_front_goes_ahead_of_the_peoples_turns_in_the_order_moved(db):
    team, ann, ben = TeamFactory(), UserFactory(), UserFactory()
    t0 = timezone.now() - timedelta(hours=1)
    a = queue_up(team, ann, 3, t0)
    b = queue_up(team, ben, 3, t0 + timedelta(minutes=1))
    Submission.move_to_front([b[2].pk], actor=ann)
    Submission.move_to_front([a[2].pk, b[1].pk], actor=ann)
    places = queue.places([b[2].pk, a[2].pk, b[1].pk, a[0].pk])
    assert [places[s.pk][0] for s in (b[2], a[2], b[1], a[0])] == [1, 2, 3, 4]
    assert send_order(4) == [b[2].pk, a[2].pk, b[1].pk, a[0].pk]


def test_moving_to_the_front_is_on_the_timeline_and_only_for_waiting_ones(db):
    team, ann = TeamFactory(), UserFactory()
    waiting = SubmissionFactory(team=team, submitter=ann)
    done = SubmissionFactory(team=team, submitter=ann, status=Status.PARSED)
    moved = Submission.move_to_front([waiting.pk, done.pk], actor=ann)
    assert [s.pk for s in moved] == [waiting.pk]
    event = waiting.events.get()
    assert event.kind == "moved" and event.actor == ann
    assert not done.events.exists()
    assert Submission.move_to_front([waiting.pk], actor=ann) == []  # already at the front


def test_the_front_of_one_team_does_not_jump_other_teams(db):
    user = UserFactory()
    team_a, team_b = TeamFactory(), TeamFactory()
    t0 = timezone.now() - timedelta(hours=1)
    [b_first] = queue_up(team_b, user, 1, t0)
    a = queue_up(team_a, user, 3, t0 + timedelta(minutes=1))
    Submission.move_to_front([a[2].pk], actor=user)
    assert send_order(3) == [b_first.pk, a[2].pk, a[0].pk]


COUNTING_TRIGGERS = {
    "sqlite": ["uploads_keep_counts_delete", "uploads_keep_counts_insert",
               "uploads_keep_counts_update", "uploads_keep_tags_update"],
    "postgresql": ["uploads_keep_counts", "uploads_keep_tags"],
}  # fmt: skip


def test_the_migrations_make_the_counting_triggers(db):
    """The test database is made by `migrate`, as every database is: the triggers are made
    by a migration (0029), and no later one dropped them (a table rebuild on SQLite does)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                "AND tgrelid = 'uploads_submission'::regclass"
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'uploads_submission'"
            )
        names = sorted(name for (name,) in cursor.fetchall())
    assert names == COUNTING_TRIGGERS[connection.vendor]


def test_the_counts_the_database_keeps_match_a_recount(db):
    import random

    from uploads import counters
    from uploads.models import Lane, Tag, Tally

    rng = random.Random(7)
    items = random_queue(rng)
    send_order(5)
    for item in rng.sample(items, 5):
        Submission.objects.filter(pk=item.pk, status=Status.QUEUED).update(status=Status.CANCELLED)
    Submission.objects.filter(pk=items[0].pk).delete()
    Submission.objects.filter(pk=items[1].pk).update(tags=["Beach", "beach", "night"])
    Submission.objects.filter(pk=items[2].pk).update(tags=[])

    def kept():
        return (
            sorted(Lane.objects.values_list("team_id", "submitter_id", "waiting", "fronted")),
            sorted(
                Tally.objects.filter(n__gt=0).values_list("team_id", "submitter_id", "status", "n")
            ),
            sorted(Tag.objects.values_list("submission_id", "name")),
        )

    before = kept()
    assert (items[1].pk, "beach") in before[2] and (items[1].pk, "night") in before[2]
    counters.recount()
    assert kept() == before
