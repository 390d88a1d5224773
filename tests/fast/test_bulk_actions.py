"""Acting on many submissions of the list at once: one question, then each row checked
and changed as the single action does it; many rows by one task on the batches queue."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from tests.factories import SubmissionFactory
from uploads import bulk
from uploads.models import Event, Status, Submission
from uploads.tasks import BATCH_QUEUE, bulk_act, send_next_submission, waiting
from uploads.views import bulk as bulk_page

BULK = reverse("submission_bulk")


def waiting_ones(team, person, n):
    t0 = timezone.now() - timedelta(hours=1)
    return [
        SubmissionFactory(team=team, submitter=person, created_at=t0 + timedelta(minutes=i))
        for i in range(n)
    ]


def statuses(submissions):
    return [Submission.objects.get(pk=s.pk).status for s in submissions]


def test_it_asks_once_before_cancelling_and_changes_nothing_meanwhile(client, alice, team_a):
    mine = waiting_ones(team_a, alice, 2)
    client.force_login(alice)
    response = client.post(BULK, {"action": "cancel", "ids": [s.pk for s in mine]})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Cancel 2 submissions?" in page and "Yes, cancel them" in page
    assert page.count('name="ids"') == 2 and 'name="confirmed"' in page
    assert statuses(mine) == [Status.QUEUED] * 2


def test_a_member_cancels_only_their_own_of_the_ticked_ones(client, alice, bob, team_a):
    mine, bobs = waiting_ones(team_a, alice, 2), waiting_ones(team_a, bob, 1)
    client.force_login(alice)
    ids = [s.pk for s in mine + bobs]
    response = client.post(BULK, {"action": "cancel", "ids": ids, "confirmed": "yes"}, follow=True)
    page = response.content.decode()
    assert "Cancelled 2 submissions. 1 submission left as they are" in page
    assert statuses(mine) == [Status.CANCELLED] * 2 and statuses(bobs) == [Status.QUEUED]
    event = mine[0].events.get(kind=Event.Kind.CANCELLED)
    assert event.actor == alice and event.from_status == Status.QUEUED


def test_a_manager_cancels_the_teams_but_not_another_teams(
    client, manager, alice, outsider, team_a, team_b
):
    alices, others = waiting_ones(team_a, alice, 1), waiting_ones(team_b, outsider, 1)
    client.force_login(manager)
    ids = [s.pk for s in alices + others]
    client.post(BULK, {"action": "cancel", "ids": ids, "confirmed": "yes"})
    assert statuses(alices) == [Status.CANCELLED] and statuses(others) == [Status.QUEUED]


def test_members_move_nothing_to_the_front_and_are_not_offered_it(client, alice, team_a):
    mine = waiting_ones(team_a, alice, 2)
    client.force_login(alice)
    assert 'value="front"' not in client.get(reverse("submission_list")).content.decode()
    response = client.post(
        BULK, {"action": "front", "ids": [s.pk for s in mine], "confirmed": "yes"}, follow=True
    )
    assert "Moved 0 submissions" in response.content.decode()
    assert not Submission.objects.filter(fronted_at__isnull=False).exists()


def test_a_manager_moves_the_ticked_ones_to_the_front(client, manager, alice, team_a):
    line = waiting_ones(team_a, alice, 3)
    client.force_login(manager)
    assert (
        'value="front"'
        in client.get(reverse("submission_list") + "?submitter=any").content.decode()
    )
    client.post(BULK, {"action": "front", "ids": [line[2].pk], "confirmed": "yes"})
    fronted = Submission.objects.filter(fronted_at__isnull=False)
    assert list(fronted) == [line[2]]
    assert line[2].events.get(kind=Event.Kind.MOVED).actor == manager


def test_every_row_the_filters_match_and_only_those(client, alice, team_a):
    tagged = [SubmissionFactory(team=team_a, submitter=alice, tags=["beach"]) for _ in range(2)]
    untagged = waiting_ones(team_a, alice, 1)
    client.force_login(alice)
    response = client.post(BULK + "?tag=beach", {"action": "cancel", "all": "1"})
    assert "Cancel 2 submissions?" in response.content.decode()
    client.post(BULK + "?tag=beach", {"action": "cancel", "all": "1", "confirmed": "yes"})
    assert statuses(tagged) == [Status.CANCELLED] * 2 and statuses(untagged) == [Status.QUEUED]


def test_ids_outside_ones_teams_change_nothing(client, outsider, alice, team_a):
    alices = waiting_ones(team_a, alice, 1)
    client.force_login(outsider)
    response = client.post(BULK, {"action": "cancel", "ids": [alices[0].pk], "confirmed": "yes"})
    assert response.status_code == 302
    assert statuses(alices) == [Status.QUEUED]


def test_an_unknown_action_is_a_400_with_the_reason(client, alice):
    client.force_login(alice)
    response = client.post(BULK, {"action": "delete", "ids": ["1"]})
    assert response.status_code == 400 and b"action: cancel or front" in response.content


def test_nothing_ticked_says_so(client, alice):
    client.force_login(alice)
    response = client.post(BULK, {"action": "cancel", "confirmed": "yes"}, follow=True)
    assert "Tick the submissions to act on first." in response.content.decode()


def test_many_rows_go_to_one_task_on_the_batches_queue(
    client, alice, bob, team_a, django_capture_on_commit_callbacks
):
    mine = waiting_ones(team_a, alice, bulk_page.AT_ONCE + 1)
    bobs = waiting_ones(team_a, bob, 1)
    client.force_login(alice)
    ids = [s.pk for s in mine + bobs]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            BULK, {"action": "cancel", "ids": ids, "confirmed": "yes"}, follow=True
        )
    assert "are being handled in the background" in response.content.decode()
    assert statuses(mine) == [Status.QUEUED] * len(mine)  # not in the request
    task = waiting(bulk_act).get()
    assert task.queue_name == BATCH_QUEUE
    assert not waiting(send_next_submission).filter(args_kwargs__kwargs__has_key="ids").exists()
    assert bulk_act.call(**task.args_kwargs["kwargs"]).startswith(f"{len(mine)} changed, 1 left")
    assert statuses(mine) == [Status.CANCELLED] * len(mine) and statuses(bobs) == [Status.QUEUED]


def test_the_task_checks_access_again_when_it_runs(client, manager, alice, team_a):
    alices = waiting_ones(team_a, alice, 2)
    manager.memberships.update(role="member")  # no longer a manager when the worker runs
    assert bulk.act_for(manager.pk, "cancel", [s.pk for s in alices]) == (0, 2)
    assert statuses(alices) == [Status.QUEUED] * 2


def test_one_claimed_for_sending_meanwhile_is_left_as_it_is(alice, team_a, monkeypatch):
    first, second = waiting_ones(team_a, alice, 2)
    real = bulk.services.cancel

    def claimed_first(user, submission):
        if submission.pk == first.pk:
            Submission.objects.filter(pk=first.pk).update(status=Status.SENDING)
        return real(user, submission)

    monkeypatch.setattr(bulk.services, "cancel", claimed_first)
    assert bulk.act(alice, "cancel", [first.pk, second.pk]) == (1, 1)
    assert statuses([first, second]) == [Status.SENDING, Status.CANCELLED]


def test_every_matching_row_is_refused_while_a_filter_is_not_valid(client, alice, team_a):
    mine = waiting_ones(team_a, alice, 2)
    client.force_login(alice)
    url = BULK + "?date_from=not-a-date"
    response = client.post(url, {"action": "cancel", "all": "1", "confirmed": "yes"}, follow=True)
    assert "Some filters are not valid: correct them first." in response.content.decode()
    assert statuses(mine) == [Status.QUEUED] * 2
