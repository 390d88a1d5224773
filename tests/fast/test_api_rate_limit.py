"""API_REQUESTS_PER_MINUTE per token, counted in the database (shared by every worker):
one more is 429 with Retry-After. A create is counted in the transaction that makes its
object (uploads/api/throttling.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from tests.factories import bearer
from tests.faults import Aborted
from uploads import locks, submitting
from uploads.models import Batch, Submission, TokenMinute

pytestmark = pytest.mark.django_db

SUBMISSIONS = "/api/v1/submissions"


@pytest.fixture(autouse=True)
def mid_minute(time_machine):
    """Every request of a test in one minute (the counts start again with the next)."""
    time_machine.move_to(datetime(2026, 3, 10, 12, 30, 15, tzinfo=UTC), tick=False)


def create(client, headers, team, url, path=SUBMISSIONS, **extra):
    row = {"url": url} if path == SUBMISSIONS else {"rows": [{"url": url}]}
    body = {"team": team.slug, **row}
    return client.post(path, body, content_type="application/json", **headers, **extra)


def counted():
    return sum(TokenMinute.objects.values_list("count", flat=True))


def test_one_more_than_the_limit_is_429_with_retry_after(client, alice, settings):
    settings.API_REQUESTS_PER_MINUTE = 3
    headers = bearer(alice)
    statuses = [client.get("/api/v1/me", **headers).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    refused = client.get("/api/v1/me", **headers)
    assert refused["Content-Type"] == "application/problem+json"
    assert int(refused["Retry-After"]) == 45  # the minute's last 45 s
    assert refused.json()["status"] == 429


def test_each_token_has_its_own_count(client, alice, bob, settings):
    settings.API_REQUESTS_PER_MINUTE = 1
    alices, bobs = bearer(alice), bearer(bob)
    assert client.get("/api/v1/me", **alices).status_code == 200
    assert client.get("/api/v1/me", **bobs).status_code == 200


def test_a_new_minute_counts_afresh_and_drops_the_old(client, alice, settings):
    settings.API_REQUESTS_PER_MINUTE = 1
    headers = bearer(alice)
    client.get("/api/v1/me", **headers)
    TokenMinute.objects.update(minute=timezone.now() - timedelta(minutes=5))
    assert client.get("/api/v1/me", **headers).status_code == 200
    assert TokenMinute.objects.get().count == 1


@pytest.mark.parametrize("path", [SUBMISSIONS, "/api/v1/batches"])
def test_a_create_is_counted_once(client, alice, team_a, clip_url, path):
    headers = bearer(alice)
    assert create(client, headers, team_a, clip_url, path).status_code in (201, 202)
    assert counted() == 1


def test_a_create_that_made_nothing_is_counted_too(client, alice, team_a, settings):
    settings.API_REQUESTS_PER_MINUTE = 2
    headers = bearer(alice)
    assert create(client, headers, team_a, "not a link").status_code == 400
    malformed = client.post(SUBMISSIONS, "{", content_type="application/json", **headers)
    assert malformed.status_code == 400
    assert counted() == 2
    assert create(client, headers, team_a, "not a link").status_code == 429


def test_a_create_in_a_full_minute_is_refused_before_any_check(
    client, alice, team_a, clip_url, settings, monkeypatch
):
    settings.API_REQUESTS_PER_MINUTE = 1
    headers = bearer(alice)
    client.get("/api/v1/me", **headers)
    checked = []
    real = submitting.ready_to_submit
    monkeypatch.setattr(
        submitting, "ready_to_submit", lambda form, **kw: checked.append(1) or real(form, **kw)
    )
    refused = create(client, headers, team_a, clip_url)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "45"
    assert not checked  # neither its form nor its URL
    assert counted() == 1


@pytest.mark.parametrize("path", [SUBMISSIONS, "/api/v1/batches"])
@pytest.mark.parametrize("key", [None, "one"])
def test_a_create_that_fills_up_its_minute_while_checked_makes_nothing(
    client, alice, team_a, clip_url, settings, monkeypatch, path, key
):
    """Its minute had room when it came in; meanwhile other requests used it up (seen
    here as a read of the count before theirs): its object is rolled back with its count."""
    settings.API_REQUESTS_PER_MINUTE = 1
    headers = bearer(alice)
    client.get("/api/v1/me", **headers)
    monkeypatch.setattr(TokenMinute, "count_in", classmethod(lambda cls, token, minute: 0))
    extra = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    refused = create(client, headers, team_a, clip_url, path, **extra)
    assert refused.status_code == 429, refused.content
    assert refused["Retry-After"] == "45"
    assert not Submission.objects.exists()
    assert not Batch.objects.exists()
    assert counted() == 1


def test_a_replayed_create_is_counted(client, alice, team_a, clip_url):
    headers = {**bearer(alice), "HTTP_IDEMPOTENCY_KEY": "one"}
    first = create(client, headers, team_a, clip_url)
    again = create(client, headers, team_a, clip_url)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert counted() == 2


@pytest.mark.django_db(transaction=True)
def test_a_create_aborted_by_a_deadlock_is_made_again_and_counted_once(
    client, alice, team_a, clip_url, faults
):
    headers = bearer(alice)
    aborted = []

    def deadlock_once(kind, **_):
        if kind == "token_minute" and not aborted:
            aborted.append(kind)
            raise OperationalError("deadlock detected") from Aborted("40P01")

    faults.at("lock", deadlock_once)
    before = locks.retries()
    made = create(client, headers, team_a, clip_url)
    assert made.status_code == 201, made.content
    assert aborted and locks.retries() == before + 1
    assert Submission.objects.count() == 1
    assert counted() == 1
