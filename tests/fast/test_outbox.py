"""The outbox's claims: a row held by a live lease is not taken again, one whose lease ran
out is; a worker that lost its claim records nothing."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import REPO, processes_of_make_run
from tests.factories import SubmissionFactory
from uploads import periodic
from uploads.models import Event, Notice, Status, Topic, WebhookEndpoint
from uploads.notifications import delivery

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


def test_the_notifications_worker_is_in_the_procfile_and_in_make_run(monkeypatch):
    procfile = (REPO / "Procfile").read_text().splitlines()
    [line] = [line for line in procfile if line.startswith("notifications: ")]
    assert line.endswith(" python manage.py db_worker --no-reload --queue-name notifications")
    started = processes_of_make_run(monkeypatch)
    assert started["notifications"][-2:] == ["--queue-name", "notifications"]
    assert "--queue-name" not in started["worker"]  # the sender's worker takes "default" only


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://u:p@mail.example.com:587", "'host': 'mail.example.com', 'port': 587"),
        ("smtps://u:p@mail.example.com:465", "'use_ssl': True"),
        ("", "console.EmailBackend"),
    ],
)
def test_email_url_configures_the_mailer(url, expected):
    code = "from memories_portal import settings; print(settings.MAILERS['default'])"
    env = {"PATH": os.environ["PATH"], "ENV_FILE": "/nonexistent", "DEBUG": "1", "EMAIL_URL": url}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert expected in result.stdout, result.stderr[-2000:]


def test_old_notifications_done_with_are_pruned_and_those_to_send_stay(settings, alice):
    settings.NOTIFY_KEEP_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    recent = timezone.now() - timedelta(days=29)

    def notice(state, created_at):
        return Notice.objects.create(
            channel=Notice.Channel.EMAIL, recipient=alice, topic=Topic.DONE,
            state=state, created_at=created_at,
        )  # fmt: skip

    sent_long_ago = notice(Notice.State.SENT, old)
    given_up_long_ago = notice(Notice.State.FAILED, old)
    still_to_send = notice(Notice.State.PENDING, old)
    waiting_for_digest = notice(Notice.State.DIGEST, old)
    sent_lately = notice(Notice.State.SENT, recent)
    assert periodic.prune_old_notices() == 2
    left = set(Notice.objects.values_list("pk", flat=True))
    assert left == {still_to_send.pk, waiting_for_digest.pk, sent_lately.pk}
    assert not {sent_long_ago.pk, given_up_long_ago.pk} & left
