"""Background work resumes after its process dies (SIGKILL mid-work): a batch's cancel,
held rows let in. (Batch checks: tests/live/test_batches_worker.py; notification
delivery: tests/live/test_notification_worker.py; a send: tests/live/test_send_fencing.py.)"""

import signal
import subprocess

import pytest
from django.utils import timezone

from tests.conftest import wait_for
from tests.factories import SubmissionFactory, submission_fields
from tests.faults import pausing
from tests.servers import manage
from uploads import periodic, services
from uploads.batches import service
from uploads.models import Batch, BatchRow, Event, Status, Submission
from uploads.sending import admission
from uploads.sending.queue import next_in_line, take_claim
from uploads.tasks import BATCH_QUEUE

pytestmark = pytest.mark.django_db(transaction=True)


def queued_batch(user, team, n):
    batch = Batch.objects.create(
        created_by=user, source="pasted", state=Batch.State.QUEUED, row_count=n,
        confirmed_at=timezone.now(),
    )  # fmt: skip
    SubmissionFactory.create_batch(n, team=team, submitter=user, batch=batch)
    return batch


def test_a_batch_cancel_whose_worker_was_killed_is_finished_and_nothing_of_it_is_sent(
    start_worker, team_a, alice, settings
):
    batch = queued_batch(alice, team_a, 150)
    waiting = batch.submissions.filter(status=Status.QUEUED)
    doomed = start_worker(queue=BATCH_QUEUE, **pausing("batch.cancelling"))
    assert service.request_cancel(batch, alice)
    # It stops after its first hundred (service.PROGRESS_EVERY): killed there.
    assert wait_for(lambda: waiting.count() == 50, timeout=30)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    assert waiting.count() == 50
    assert Batch.objects.get(pk=batch.pk).cancel_finished_at is None

    # Meanwhile the sender cancels, rather than sends, what it claims of the batch.
    first = next_in_line()
    assert take_claim(first, 60) is None
    assert Submission.objects.get(pk=first).status == Status.CANCELLED

    # Once it has not moved for BATCH_CHECK_STALLED_SECONDS, run_periodic starts it again.
    settings.BATCH_CHECK_STALLED_SECONDS = 0.5
    start_worker(queue=BATCH_QUEUE)
    finished = Batch.objects.filter(pk=batch.pk, cancel_finished_at__isnull=False)
    assert wait_for(lambda: periodic.run_once() and finished.exists(), timeout=30, interval=0.3)
    assert not waiting.exists()
    assert batch.submissions.filter(status=Status.CANCELLED).count() == 150
    assert not Event.objects.filter(kind=Event.Kind.CLAIMED).exists()


def test_held_rows_being_let_in_when_run_periodic_is_killed_are_let_in_by_the_next_pass(
    team_a, alice, settings, tmp_path
):
    settings.MAX_WAITING_PER_PERSON = 1
    team_a.max_waiting_per_person = 1
    team_a.save()
    blocking = services.submit(alice, fields(team_a, "https://videos.example.com/0.mp4"))
    batch = queued_batch(alice, team_a, 0)
    for line in (1, 2):
        BatchRow.objects.create(
            batch=batch, line=line, team=team_a, state=BatchRow.State.HELD,
            **fields_of_row(f"https://videos.example.com/{line}.mp4"),
        )  # fmt: skip
    services.cancel(alice, blocking)  # room for one
    used = admission.quota(team_a).used

    log = tmp_path / "periodic.log"
    with log.open("w") as out:
        doomed = manage(
            "run_periodic", "--interval", "0.2", env=pausing("admission.releasing"),
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        assert wait_for(lambda: "pausing at admission.releasing" in log.read_text(), timeout=30), (
            log.read_text()[-3000:]
        )
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    # Killed inside its transaction: nothing of it stayed, nothing was lost.
    assert batch.rows.filter(state=BatchRow.State.HELD).count() == 2
    assert admission.quota(team_a).used == used
    assert not batch.submissions.exists()

    assert periodic.run_once()["released"] == 1
    assert batch.rows.filter(state=BatchRow.State.HELD).count() == 1
    assert batch.submissions.get().status == Status.QUEUED


def fields_of_row(url):
    return {"url": url, "confirm_public": True}


def fields(team, url):
    return submission_fields(team, url)
