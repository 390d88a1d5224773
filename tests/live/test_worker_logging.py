"""A worker process logs the timeline's events in the web's shape (JSON lines)."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import EVENT_KEYS, REPO, database_url, wait_for
from tests.factories import SubmissionFactory
from uploads.models import Status, Submission


@pytest.mark.django_db(transaction=True)
def test_the_worker_logs_events_in_the_same_shape(sandbox, alice, team_a, tmp_path):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "MEMORIES_API_BASE_URL": sandbox.url,
        "MEMORIES_API_KEY": sandbox.api_key,
        "MEMORIES_UPLOADS_PER_MINUTE": "6000",
        "LOG_FORMAT": "json",
    }
    from uploads.tasks import wake_sender

    wake_sender()
    with log.open("w") as output:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.05",
             "--no-startup-delay"],
            cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            assert wait_for(lambda: Submission.objects.get().status == Status.PROCESSING)
            assert wait_for(lambda: "accepted" in log.read_text())
        finally:
            worker.kill()
            worker.wait(timeout=10)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert lines, log.read_text()
    assert all(set(line) >= {"time", "level", "logger", "message", "pid"} for line in lines)
    events = [line for line in lines if line["logger"] == "uploads.events"]
    assert [(e["kind"], e["from_status"], e["to_status"]) for e in events] == [
        ("claimed", "queued", "sending"),
        ("accepted", "sending", "processing"),
    ]
    assert all(set(e) == EVENT_KEYS and e["submission"] == submission.pk for e in events)
    assert all(e["team"] == team_a.pk for e in events)
