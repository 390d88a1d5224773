"""GET /healthz (load balancers) and /healthz/workers (monitoring), no login.

/healthz: 200 while this process and its database answer. /healthz/workers: 200 only
while every kind of background process beats, else 503 naming the missing ones.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.utils import timezone

from tests.factories import SubmissionFactory
from uploads import heartbeats
from uploads.models import ProcessBeat, Status, UploadGate

pytestmark = pytest.mark.django_db

URL = "/healthz"
WORKERS = "/healthz/workers"


def beat(seconds_ago, kinds=heartbeats.KINDS):
    for kind in kinds:
        ProcessBeat.objects.update_or_create(
            process=kind, defaults={"beat_at": timezone.now() - timedelta(seconds=seconds_ago)}
        )


def test_the_load_balancers_check_is_200_with_no_process_beating(client):
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_recent_heartbeats_of_every_kind_are_healthy_without_a_login(client):
    beat(5)
    response = client.get(WORKERS)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["missing"] == []
    assert list(body["processes"]) == ["sender", "batches", "notifications", "periodic"]
    for state in body["processes"].values():
        assert state["ok"] is True
        assert 4 <= state["age_seconds"] < 60
        assert state["last_beat"].startswith(str(timezone.now().year))
    assert body["queue"]["oldest_waiting_age_seconds"] is None
    assert body["sending"] == {
        "paused": False,
        "reason": "",
        "accounts": {"default": {"paused": False, "reason": ""}},
    }
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_stale_kind_is_named_with_its_age_and_the_others_are_not(client, settings):
    settings.HEALTH_MAX_HEARTBEAT_AGE_SECONDS = 60
    beat(5)
    beat(75, kinds=[heartbeats.NOTIFICATIONS])
    response = client.get(WORKERS)
    assert response.status_code == 503
    body = response.json()
    assert body["missing"] == ["notifications: last beat 75 s ago"]
    assert body["processes"]["notifications"]["ok"] is False
    assert body["processes"]["sender"]["ok"] is True
    assert client.get(URL).status_code == 200  # the web goes on serving


def test_a_kind_that_never_beat_is_named(client):
    beat(1, kinds=[heartbeats.SENDER, heartbeats.PERIODIC, heartbeats.NOTIFICATIONS])
    response = client.get(WORKERS)
    assert response.status_code == 503
    assert response.json()["missing"] == ["batches: never beat"]


@pytest.mark.django_db(transaction=True)  # the commands close their connections
def test_each_process_beats_for_its_own_kind(client):
    call_command("run_periodic", "--once")
    assert client.get(WORKERS).json()["processes"]["periodic"]["ok"] is True
    assert client.get(WORKERS).json()["processes"]["sender"]["ok"] is False
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload")
    for queue in ["batches", "notifications"]:
        call_command(
            "db_worker", "--batch", "--no-startup-delay", "--no-reload", "--queue-name", queue
        )
    assert client.get(WORKERS).status_code == 200


def test_a_worker_of_every_queue_beats_for_every_worker_kind():
    assert heartbeats.kinds_of_queues(["*"]) == ["sender", "batches", "notifications"]
    assert heartbeats.kinds_of_queues(["default", "elsewhere"]) == ["sender"]


def test_it_reports_the_oldest_waiting_submission_and_a_pause(client, team_a, alice):
    beat(1)
    SubmissionFactory(
        team=team_a, submitter=alice, created_at=timezone.now() - timedelta(minutes=10)
    )
    SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED,
                      created_at=timezone.now() - timedelta(days=3))  # fmt: skip
    UploadGate.pause("memories.ai refused the account (0402): not enough points")
    body = client.get(WORKERS).json()
    assert 590 < body["queue"]["oldest_waiting_age_seconds"] < 700
    assert body["sending"]["paused"] is True
    assert "not enough points" in body["sending"]["reason"]
    assert body["ok"] is True  # paused is news, not a broken portal


@pytest.mark.parametrize("url", [URL, WORKERS])
def test_a_database_that_does_not_answer_is_503(client, url):
    beat(1)

    def refuse(execute, sql, params, many, context):
        raise OperationalError("could not connect to server")

    with connection.execute_wrapper(refuse):
        response = client.get(url)
    assert response.status_code == 503
    assert response.json() == {"ok": False, "database": "unavailable"}


@pytest.mark.parametrize("url", [URL, WORKERS])
def test_only_reading_is_allowed(client, url):
    assert client.post(url).status_code == 405


def test_a_process_stuck_in_one_unit_of_work_stops_beating(settings):
    settings.HEALTH_MAX_WORK_SECONDS = 60
    heartbeat = heartbeats.Heartbeat([heartbeats.SENDER])
    with heartbeat.working():
        heartbeat.beat_all()
        assert ProcessBeat.objects.filter(process="sender").exists()  # working, not stuck
        ProcessBeat.objects.all().delete()
        heartbeat.work_started -= 61  # the same task, a minute later
        heartbeat.beat_all()
        assert not ProcessBeat.objects.exists()
    heartbeat.beat_all()  # it finished: alive again
    assert ProcessBeat.objects.filter(process="sender").exists()
