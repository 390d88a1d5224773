"""The outbox's claims: a row held by a live lease is not taken again, one whose lease ran
out is; a worker that lost its claim records nothing."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import SubmissionFactory
from uploads.models import Event, Status
from uploads.notifications import delivery
from uploads.notifications.records import Notice, Topic, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def notice(team_a, alice):
    WebhookEndpoint.objects.create(team=team_a, url="https://hooks.example.com/", topics=["test"])
    return Notice.objects.create(
        topic=Topic.TEST, channel=Notice.Channel.WEBHOOK, endpoint=WebhookEndpoint.objects.get()
    )


def test_a_claimed_notice_is_not_claimed_again_while_its_lease_holds(notice):
    first = delivery.claim_next()
    assert first.pk == notice.pk and first.attempts == 1
    assert delivery.claim_next() is None
    Notice.objects.filter(pk=notice.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    again = delivery.claim_next()
    assert again.pk == notice.pk and again.attempts == 2
    # The first worker comes back late: its outcome is not recorded over the second claim.
    assert not delivery._finish(first, state=Notice.State.SENT)
    assert delivery._finish(again, state=Notice.State.SENT)


def test_a_status_change_writes_its_rows_in_a_fixed_number_of_queries(team_a, alice, bob):
    """However many endpoints and people: the settings, the endpoints, one insert."""
    for n in range(3):
        WebhookEndpoint.objects.create(
            team=team_a, url=f"https://h{n}.example.com/", topics=[Topic.FAILED]
        )
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.SENDING)
    with CaptureQueriesContext(connection) as queries:
        submission.transition(Status.FAILED, kind=Event.Kind.REFUSED, message="Refused.")
    notice_queries = [q for q in queries if "notice" in q["sql"] or "webhook" in q["sql"]]
    assert len(notice_queries) == 2  # the endpoints, one insert
    assert Notice.objects.count() == 4
