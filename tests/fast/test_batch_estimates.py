"""A batch's estimated finish (when its last waiting one is sent), and the recent
batches' real progress on the Submit many page."""

from datetime import UTC, datetime, timedelta

from django.urls import reverse

from tests.factories import SubmissionFactory
from uploads.batches import progress
from uploads.models import Batch, Status, Submission, UploadGate
from uploads.sending import queue

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def queued_batch(person, team, statuses):
    batch = Batch.objects.create(
        created_by=person, source="pasted", state=Batch.State.QUEUED, row_count=len(statuses)
    )
    for i, status in enumerate(statuses):
        SubmissionFactory(
            team=team, submitter=person, batch=batch, status=status,
            created_at=NOW - timedelta(minutes=30 - i),
        )  # fmt: skip
    return batch


def test_the_estimate_is_when_the_last_waiting_one_is_sent(
    client, alice, bob, manager, team_a, team_b, time_machine
):
    time_machine.move_to(NOW, tick=False)
    UploadGate.get()
    UploadGate.objects.update(next_allowed_at=NOW, paused=False)
    batch = queued_batch(alice, team_a, [Status.PARSED] + [Status.QUEUED] * 4)
    SubmissionFactory(
        team=team_a, submitter=alice, batch=batch, created_at=NOW - timedelta(hours=2)
    )
    for i in range(3):  # others' turns come between
        SubmissionFactory(
            team=team_a, submitter=bob, created_at=NOW - timedelta(hours=3, minutes=i)
        )
    first = batch.submissions.filter(status=Status.QUEUED).order_by("created_at").first()
    Submission.move_to_front([first.pk], actor=manager)
    waiting = batch.submissions.filter(status=Status.QUEUED)
    every = [eta for _, eta in queue.places(list(waiting)).values()]
    assert len(every) == 5 and progress.estimated_finish(batch) == max(every)
    assert max(every) > NOW + UploadGate.interval() * 4  # behind bob's turns
    client.force_login(alice)
    page = client.get(reverse("batch_detail", args=[batch.pk])).content.decode()
    assert "The last waiting one is estimated to be sent in" in page


def test_no_estimate_while_paused_or_with_nothing_waiting(alice, team_a, time_machine):
    time_machine.move_to(NOW, tick=False)
    batch = queued_batch(alice, team_a, [Status.PARSED, Status.QUEUED])
    UploadGate.get()
    UploadGate.objects.update(paused=True)
    assert progress.estimated_finish(batch) is None
    UploadGate.objects.update(paused=False)
    assert progress.estimated_finish(batch) is not None
    batch.submissions.update(status=Status.CANCELLED)
    assert progress.estimated_finish(batch) is None


def test_recent_batches_show_their_real_progress(client, alice, team_a):
    queued_batch(alice, team_a, [Status.PARSED, Status.FAILED, Status.QUEUED, Status.QUEUED])
    client.force_login(alice)
    page = client.get(reverse("batch_new")).content.decode()
    assert "2 of 4 finished" in page
    assert 'aria-valuenow="2"' in page and 'aria-valuemax="4"' in page
    assert '<rect class="series-done"' in page and '<rect class="series-waiting"' in page
