"""Batches are checked by the batches worker, never by the sender's."""

import pytest
from django_tasks_db.models import DBTaskResult

from tests.conftest import make_batch, wait_for
from uploads.models import Batch, BatchRow
from uploads.tasks import BATCH_QUEUE, check_batch, waiting, wake_sender

Row = BatchRow.State


@pytest.mark.django_db(transaction=True)
def test_only_the_batches_worker_checks_batches(client, alice, team_a, start_worker, clip_url):
    batch = make_batch(client, alice, team_a, urls=f"{clip_url}\n{clip_url}?2")
    start_worker()  # the sender's worker
    wake = wake_sender()  # once it has run this, it has passed the batch's check over
    assert wait_for(lambda: DBTaskResult.objects.get(pk=wake.id).status == "SUCCESSFUL", timeout=30)
    assert waiting(check_batch).count() == 1  # the sender's worker left it
    assert batch.rows.filter(state=Row.NEW).count() == 2
    start_worker(queue=BATCH_QUEUE)
    assert wait_for(lambda: Batch.objects.get(pk=batch.pk).state == Batch.State.CHECKED, timeout=30)
    assert set(batch.rows.values_list("state", flat=True)) == {Row.READY}
