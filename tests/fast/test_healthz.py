"""GET /healthz: no login, 200 when the database answers and the worker beats, else 503."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.utils import timezone

from tests.factories import SubmissionFactory
from uploads.models import Status, UploadGate

pytestmark = pytest.mark.django_db

URL = "/healthz"


def beat(seconds_ago):
    UploadGate.objects.filter(pk=UploadGate.get().pk).update(
        worker_heartbeat_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


def test_a_recent_heartbeat_is_healthy_without_a_login(client):
    beat(5)
    response = client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["database"] == "ok"
    assert body["worker"]["ok"] is True
    assert 4 <= body["worker"]["age_seconds"] < 60
    assert body["worker"]["last_heartbeat"].startswith(str(timezone.now().year))
    assert body["queue"]["oldest_waiting_age_seconds"] is None
    assert body["sending"] == {
        "paused": False,
        "reason": "",
        "accounts": {"default": {"paused": False, "reason": ""}},
    }
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_stale_heartbeat_is_503(client, settings):
    settings.HEALTH_MAX_HEARTBEAT_AGE_SECONDS = 120
    beat(121)
    response = client.get(URL)
    assert response.status_code == 503
    assert response.json()["worker"]["ok"] is False


def test_a_worker_that_never_beat_is_503(client):
    response = client.get(URL)
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["worker"]["last_heartbeat"] is None


@pytest.mark.django_db(transaction=True)  # the command closes its connection between passes
def test_run_periodic_has_a_worker_beat_even_with_nothing_to_do(client):
    call_command("run_periodic", "--once")
    assert client.get(URL).status_code == 503  # enqueued, but no worker has run it yet
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload")
    assert client.get(URL).status_code == 200


def test_it_reports_the_oldest_waiting_submission_and_a_pause(client, team_a, alice):
    beat(1)
    SubmissionFactory(
        team=team_a, submitter=alice, created_at=timezone.now() - timedelta(minutes=10)
    )
    SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED,
                      created_at=timezone.now() - timedelta(days=3))  # fmt: skip
    UploadGate.pause("memories.ai refused the account (0402): not enough points")
    body = client.get(URL).json()
    assert 590 < body["queue"]["oldest_waiting_age_seconds"] < 700
    assert body["sending"]["paused"] is True
    assert "not enough points" in body["sending"]["reason"]
    assert body["ok"] is True  # paused is news, not a broken portal


def test_a_database_that_does_not_answer_is_503(client):
    beat(1)

    def refuse(execute, sql, params, many, context):
        raise OperationalError("could not connect to server")

    with connection.execute_wrapper(refuse):
        response = client.get(URL)
    assert response.status_code == 503
    assert response.json() == {"ok": False, "database": "unavailable"}


def test_only_reading_is_allowed(client):
    assert client.post(URL).status_code == 405
