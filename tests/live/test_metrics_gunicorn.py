"""/metrics under gunicorn with two workers, beside a sender and a notifications worker:
after a send, a callback and a delivery each counter has moved, in every worker's answer
(prometheus_client's multiprocess mode adds up every process's counts)."""

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import wait_for
from tests.factories import SubmissionFactory
from tests.servers import free_port, serving
from uploads.models import Notice, Status, Submission, Topic, WebhookEndpoint
from uploads.tasks import wake_sender

pytestmark = pytest.mark.django_db(transaction=True)

MOVED = [  # name, labels, by how much
    ("memories_portal_uploads_total", {"account": "default", "outcome": "accepted"}, 1),
    ("memories_portal_memories_answers_total", {"account": "default", "code": "0000"}, 1),
    ("memories_portal_callbacks_total", {"result": "applied"}, 2),  # UNPARSE, then PARSE
    ("memories_portal_notifications_total", {"channel": "webhook", "outcome": "sent"}, 1),
]


def scrape(base):
    response = requests.get(base + "/metrics", timeout=10)
    assert response.status_code == 200, response.text
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def counted(found, name, labels):
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_from_every_process_are_scraped_through_either_worker(
    settings, sandbox, start_worker, receiver, team_a, alice, clip_url, tmp_path
):
    shared = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings.PUBLIC_BASE_URL = base  # the sandbox calls back to gunicorn
    env = {**shared, "GUNICORN_WORKERS": "2", "METRICS_ALLOWED_IPS": "127.0.0.1",
           "PUBLIC_BASE_URL": base}  # fmt: skip
    WebhookEndpoint.objects.create(team=team_a, url=receiver.url, topics=[Topic.DONE])
    with serving(tmp_path / "gunicorn.log", port=port, **env):
        before = [scrape(base) for _ in range(4)]
        start_worker(**shared)
        start_worker(queue="notifications", **shared)
        submission = SubmissionFactory(
            team=team_a, submitter=alice, url=clip_url, status=Status.QUEUED
        )
        wake_sender()
        assert wait_for(
            lambda: Submission.objects.get(pk=submission.pk).status == Status.PARSED, timeout=60
        ), (tmp_path / "gunicorn.log").read_text()[-3000:]
        assert wait_for(lambda: Notice.objects.filter(state=Notice.State.SENT).exists(), timeout=30)

        # Several scrapes, shared out between the two workers: each sees every count.
        after = [scrape(base) for _ in range(8)]
        for name, labels, moved in MOVED:
            assert {counted(found, name, labels) for found in before} == {0.0}, name
            assert {counted(found, name, labels) for found in after} == {moved}, name
        assert all(
            counted(found, "memories_portal_submissions", {"status": Status.PARSED}) == 1
            for found in after
        )
