"""Nothing lost: a notifications worker killed between the status change and the delivery
leaves the outbox row to be sent again, by another worker, with the same webhook-id."""

import pytest
from django_tasks_db.models import DBTaskResult

from tests.conftest import wait_for
from tests.factories import SubmissionFactory
from tests.faults import pausing
from uploads import periodic
from uploads.models import Event, Notice, PersonSettings, Status, Topic, WebhookEndpoint
from uploads.tasks import deliver_notifications, waiting, wake_sender

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 2.0  # seconds a killed worker's claim lasts in this test
# A lease must be longer than a delivery's deadlines (the settings refuse it otherwise).
SHORT = {"NOTIFY_LEASE_SECONDS": LEASE, "WEBHOOK_DEADLINE": 1, "EMAIL_DEADLINE": 1}


def test_a_worker_killed_mid_send_leaves_the_notification_to_be_sent_again(
    start_worker, receiver, team_a, alice
):
    PersonSettings.objects.create(user=alice, email_done=PersonSettings.Done.NEVER)
    WebhookEndpoint.objects.create(team=team_a, url=receiver.url, topics=[Topic.DONE])
    doomed = start_worker(queue="notifications", **pausing("notify.before_delivery"), **SHORT)
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.PROCESSING)
    submission.transition(Status.PARSED, kind=Event.Kind.CALLBACK, message="PARSE")
    notice = Notice.objects.get()  # written with the change, committed with it

    # The worker woken by the commit claims it, then stalls before sending: killed there.
    assert wait_for(lambda: Notice.objects.filter(pk=notice.pk, attempts=1).exists())
    doomed.kill()
    doomed.wait(timeout=10)
    assert receiver.requests == []
    assert Notice.objects.get(pk=notice.pk).state == Notice.State.PENDING

    # Once the lease runs out, run_periodic finds it and wakes the worker still running.
    start_worker(queue="notifications", **SHORT)
    assert wait_for(periodic.ensure_notifier_awake, timeout=LEASE + 10)
    assert wait_for(lambda: Notice.objects.filter(pk=notice.pk, state="sent").exists())
    [(_, headers, _)] = receiver.requests
    assert headers["webhook-id"] == notice.uid
    assert Notice.objects.get(pk=notice.pk).attempts == 2


def test_the_senders_worker_never_takes_notifications(start_worker, receiver, team_a, alice):
    WebhookEndpoint.objects.create(team=team_a, url=receiver.url, topics=[Topic.FAILED])
    start_worker()  # the sender's queue only
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.SENDING)
    submission.transition(Status.FAILED, kind=Event.Kind.REFUSED, message="Refused.")
    wake = wake_sender()
    assert wait_for(lambda: DBTaskResult.objects.get(pk=wake.id).status == "SUCCESSFUL")
    assert waiting(deliver_notifications).exists()  # the sender's worker left it
    assert receiver.requests == []
    start_worker(queue="notifications")
    assert wait_for(lambda: len(receiver.requests) == 1)
