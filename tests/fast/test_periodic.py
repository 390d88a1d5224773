"""`run_periodic` and the tasks carry on through database errors."""

import logging
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError

from tests.factories import SubmissionFactory
from uploads import periodic
from uploads.management.commands import run_periodic
from uploads.models import ProcessBeat, Status
from uploads.notifications import delivery
from uploads.sending import sender as sending
from uploads.tasks import deliver_notifications, send_next_submission, waiting

LOCKED = OperationalError("database is locked")


def fail(*_, **__):
    raise LOCKED


def test_a_step_that_fails_leaves_the_others_to_run(team_a, alice, monkeypatch, caplog):
    SubmissionFactory(team=team_a, submitter=alice, status=Status.QUEUED)
    polled = []
    monkeypatch.setattr(periodic, "recover_abandoned_sends", fail)
    monkeypatch.setattr(periodic, "poll_each_account", lambda: polled.append(1) or 0)
    with caplog.at_level(logging.WARNING, "uploads.periodic"):
        outcome = periodic.run_once()
    assert outcome == {"recovered": 0, "released": 0, "polled": 0, "failed": ["recovery"]}
    assert ProcessBeat.objects.filter(process="periodic").count() == 0  # the loop beats, not a step
    assert waiting(send_next_submission).exists()  # the wake-up after it
    assert polled == [1]  # and the polling
    assert "periodic step recovery failed, the others go on: database is locked" in caplog.text


def test_every_step_is_guarded(db, monkeypatch):
    for name in (
        "recover_abandoned_sends",
        "release_held",
        "ensure_sender_awake",
    ):
        monkeypatch.setattr(periodic, name, fail)
    monkeypatch.setattr(periodic, "poll_each_account", lambda: 1 / 0)  # not only database errors
    monkeypatch.setattr(periodic, "prune_task_results", fail)
    outcome = periodic.run_once(prune=True)
    assert outcome["failed"] == [
        "recovery",
        "held work",
        "wake-up",
        "polling",
        "pruning",
    ]


class Stop(Exception):
    pass


@pytest.mark.django_db(transaction=True)  # the command closes its connection between passes
def test_the_loop_carries_on_with_backoff_and_back_to_its_interval(monkeypatch, settings, caplog):
    settings.DB_RETRY_BASE_SECONDS, settings.DB_RETRY_MAX_SECONDS = 0.5, 1.5
    recoveries, pollings, pauses = [], [], []

    def recover():
        recoveries.append(1)
        if len(recoveries) <= 3:
            raise LOCKED
        return 0

    def poll():
        pollings.append(1)
        return 0

    def pause(seconds):
        pauses.append(seconds)
        if len(pauses) == 5:
            raise Stop

    monkeypatch.setattr(periodic, "recover_abandoned_sends", recover)
    monkeypatch.setattr(periodic, "poll_each_account", poll)
    monkeypatch.setattr(run_periodic.time, "sleep", pause)
    with caplog.at_level(logging.INFO, "uploads.periodic"), pytest.raises(Stop):
        call_command("run_periodic", "--interval", "7")
    assert pauses == [0.5, 1.0, 1.5, 7, 7]  # doubling, at most the cap; then the interval
    assert len(recoveries) == len(pollings) == 5  # every pass ran every step
    assert ProcessBeat.objects.get(process="periodic").pid == os.getpid()
    assert (
        "periodic pass 3 in a row with failed steps (recovery); next pass in 1.5 s" in caplog.text
    )
    assert "every step worked again" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_pruning_is_tried_again_on_the_next_pass_until_it_works(monkeypatch):
    prunes, pauses = [], []

    def prune():
        prunes.append(1)
        if len(prunes) == 1:
            raise LOCKED

    def pause(seconds):
        pauses.append(seconds)
        if len(pauses) == 3:
            raise Stop

    monkeypatch.setattr(periodic, "prune_task_results", prune)
    monkeypatch.setattr(periodic, "poll_each_account", lambda: 0)
    monkeypatch.setattr(run_periodic.time, "sleep", pause)
    with pytest.raises(Stop):
        call_command("run_periodic")
    assert len(prunes) == 2  # failed, worked, then not again within the hour


@pytest.mark.django_db(transaction=True)
def test_once_reports_failed_steps(monkeypatch):
    monkeypatch.setattr(periodic, "ensure_sender_awake", fail)
    with pytest.raises(CommandError, match="wake-up"):
        call_command("run_periodic", "--once")


# --- tasks ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # outside a transaction, as in a worker
def test_a_task_tries_again_after_a_database_error(monkeypatch, settings, caplog):
    settings.DB_RETRY_BASE_SECONDS = 0.01
    calls = []

    def flaky(**options):
        calls.append(1)
        if len(calls) <= 2:
            raise LOCKED
        return 0

    monkeypatch.setattr(delivery, "deliver_due", flaky)
    with caplog.at_level(logging.WARNING, "uploads.resilience"):
        assert deliver_notifications.call() == "0 handled"
    assert len(calls) == 3
    assert "deliver_notifications: database error (try 2 of 5), trying again" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_sending_task_tries_again_after_a_database_error(monkeypatch, settings):
    settings.DB_RETRY_BASE_SECONDS = 0.01
    outcomes = iter([LOCKED, ("idle", None)])

    def send_next(after_claim=None):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(sending, "send_next", send_next)
    assert send_next_submission.call() == "idle"


@pytest.mark.django_db(transaction=True)
def test_a_task_gives_up_after_its_tries(monkeypatch, settings, caplog):
    settings.DB_RETRY_BASE_SECONDS, settings.DB_RETRY_ATTEMPTS = 0.01, 3
    calls = []
    monkeypatch.setattr(delivery, "deliver_due", lambda **_: calls.append(1) or fail())
    with pytest.raises(OperationalError):
        deliver_notifications.call()
    assert len(calls) == 3
    assert "giving up after 3 tries" in caplog.text


def test_inside_a_transaction_a_task_does_not_try_again(db, monkeypatch, settings):
    """The error spoiled the caller's transaction: only the caller can start over."""
    settings.DB_RETRY_BASE_SECONDS = 0.01
    calls = []
    monkeypatch.setattr(delivery, "deliver_due", lambda **_: calls.append(1) or fail())
    with pytest.raises(OperationalError):
        deliver_notifications.call()
    assert len(calls) == 1


# --- the worker ------------------------------------------------------------------------


def test_db_worker_is_the_portals_own():
    """Procfile and `make run` start `db_worker`: it must be the one that carries on."""
    from django.core.management import get_commands

    assert get_commands()["db_worker"] == "uploads"


def test_the_worker_loop_carries_on_after_database_errors(monkeypatch, settings, caplog):
    from django_tasks_db.management.commands import db_worker as upstream

    from uploads.management.commands import db_worker

    settings.DB_RETRY_BASE_SECONDS, settings.DB_RETRY_MAX_SECONDS = 0.5, 1.5
    runs, pauses = [], []

    def run(self):
        runs.append(1)
        if len(runs) <= 4:
            raise LOCKED

    monkeypatch.setattr(upstream.Worker, "run", run)
    monkeypatch.setattr(db_worker.time, "sleep", pauses.append)
    worker = db_worker.Worker(
        queue_names=["default"], interval=1, batch=False, backend_name="default",
        startup_delay=True, max_tasks=None, worker_id="w1", excluded_queue_names=[],
    )  # fmt: skip
    with caplog.at_level(logging.WARNING, "django_tasks_db"):
        worker.run()
    assert len(runs) == 5
    assert pauses == [0.5, 1.0, 1.5, 1.5]
    assert "worker_id=w1: database error, carrying on in 1.5 s: database is locked" in caplog.text
