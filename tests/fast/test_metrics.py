"""GET /metrics: Prometheus's text, for allowed addresses or the bearer token only; gauges
read from the database at the scrape, counters counted where things happen."""

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO
from tests.factories import SubmissionFactory
from uploads import heartbeats
from uploads.management.commands import run_local
from uploads.models import ProcessBeat, Status, UploadGate

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[1] / "data"
URL = "/metrics"
TOKEN = "a-metrics-token-of-at-least-32-characters"


def samples(response):
    """{(name, labels as a sorted tuple): value} of a scrape."""
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name, **labels):
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def allowed(settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.0/8"]


def test_no_one_may_read_them_by_default(client):
    response = client.get(URL)
    assert response.status_code == 403
    assert "METRICS_ALLOWED_IPS" in response.content.decode()


def test_an_allowed_network_may_read_them(client, allowed):
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")


def test_a_forwarded_address_counts_only_through_a_trusted_proxy(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.1.2.3"]
    forwarded = {"HTTP_X_FORWARDED_FOR": "10.1.2.3"}
    assert client.get(URL, **forwarded).status_code == 403  # anyone can write the header
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert client.get(URL, **forwarded).status_code == 200


def test_the_bearer_token_opens_them_from_anywhere_and_no_other(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 403
    assert client.get(URL, HTTP_AUTHORIZATION=TOKEN).status_code == 403


def test_an_empty_token_setting_opens_nothing(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get(URL, HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_gauges_are_read_from_the_database_at_the_scrape(client, allowed, team_a, alice):
    SubmissionFactory(
        team=team_a, submitter=alice, created_at=timezone.now() - timedelta(minutes=5)
    )
    SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    ProcessBeat.objects.create(
        process=heartbeats.SENDER, beat_at=timezone.now() - timedelta(seconds=30)
    )
    UploadGate.pause("memories.ai refused the account (0402): not enough points")
    found = samples(client.get(URL))
    prefix = "memories_portal_"
    assert value(found, prefix + "submissions", status=Status.QUEUED) == 1
    assert value(found, prefix + "submissions", status=Status.PARSED) == 2
    assert value(found, prefix + "submissions", status=Status.FAILED) == 0
    assert 290 < value(found, prefix + "oldest_waiting_seconds") < 400
    assert 29 < value(found, prefix + "process_heartbeat_age_seconds", process="sender") < 60
    assert value(found, prefix + "process_heartbeat_age_seconds", process="batches") == float("inf")
    assert value(found, prefix + "sending_paused", account="default") == 1  # per account


def test_a_callback_is_counted_by_its_result(client, allowed, sent):
    _, url = sent
    parse = (DATA / "callback_parse.json").read_text()
    name = "memories_portal_callbacks_total"
    before = samples(client.get(URL))
    client.post(url, parse, content_type="application/json")
    client.post(url.replace(url.split("/")[-2], "x" * 43), parse, content_type="application/json")
    after = samples(client.get(URL))
    for result in ["applied", "unknown_token"]:
        assert value(after, name, result=result) - value(before, name, result=result) == 1


def test_every_process_of_the_procfile_and_make_run_shares_one_metrics_directory(monkeypatch):
    procfile = (REPO / "Procfile").read_text().splitlines()
    for line in procfile:
        if not line.startswith("release:"):
            assert ": PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-" in line, line
    environments = []
    monkeypatch.setattr(run_local, "call_command", lambda *a, **k: None)
    command = run_local.Command()
    monkeypatch.setattr(command, "demo_login", lambda: ("demo", "pw"))
    monkeypatch.setattr(command, "supervise", lambda commands, env: environments.append(env))
    monkeypatch.setattr(run_local.settings, "BASE_DIR", REPO / ".pytest_cache")
    command.handle(port=8000, sandbox_port=8765)
    [env] = environments
    assert env["PROMETHEUS_MULTIPROC_DIR"] == str(REPO / ".pytest_cache" / ".metrics")


def test_the_dashboard_shows_only_metrics_the_portal_serves(client, allowed):
    served = {
        line.split()[2]
        for line in client.get(URL).content.decode().splitlines()
        if line.startswith("# TYPE memories_portal_")
    }
    dashboard = json.loads((REPO / "deploy" / "grafana" / "memories-portal.json").read_text())
    shown = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"memories_portal_\w+", target["expr"])
    }
    assert len(shown) == 9
    assert shown <= served, shown - served
