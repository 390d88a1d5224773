"""Idempotency-Key: a retry gets the first answer, another body with the same key is
422, and two requests at once with one key make one submission (a unique constraint)."""

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.response import Response

import uploads.api.views  # noqa: F401  (the API's modules, imported in their own order)
from tests.factories import bearer
from uploads import submitting
from uploads.api import idempotency
from uploads.models import ApiToken, Batch, IdempotencyKey, Submission

SUBMISSIONS = "/api/v1/submissions"


def post(client, headers, body, key, path=SUBMISSIONS):
    return client.post(
        path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key, **headers
    )


@pytest.mark.django_db
def test_a_retry_gets_the_first_answer_and_makes_nothing(client, alice, team_a, clip_url):
    headers, body = bearer(alice), {"team": team_a.slug, "url": clip_url}
    first = post(client, headers, body, "k-1")
    again = post(client, headers, body, "k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Submission.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422(client, alice, team_a, clip_url):
    headers = bearer(alice)
    post(client, headers, {"team": team_a.slug, "url": clip_url}, "k-1")
    response = post(client, headers, {"team": team_a.slug, "url": clip_url + "?2"}, "k-1")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert "another request" in response.json()["detail"]
    assert Submission.objects.count() == 1


@pytest.mark.django_db
def test_keys_belong_to_their_token_and_last_a_day(client, alice, team_a, clip_url):
    body = {"team": team_a.slug, "url": clip_url, "send_again": True}
    first, second = bearer(alice), bearer(alice)
    post(client, first, body, "k-1")
    assert "Idempotent-Replayed" not in post(client, second, body, "k-1")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    assert "Idempotent-Replayed" not in post(client, first, body, "k-1")
    assert Submission.objects.count() == 3


@pytest.mark.django_db
def test_an_error_is_not_kept_so_the_fixed_request_may_use_the_key(client, alice, team_a):
    headers = bearer(alice)
    assert post(client, headers, {"team": team_a.slug}, "k-1").status_code == 400
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_a_batch_retry_makes_one_batch(client, alice, team_a, clip_url):
    headers, body = bearer(alice), {"team": team_a.slug, "rows": [{"url": clip_url}]}
    ids = {post(client, headers, body, "b-1", "/api/v1/batches").json()["id"] for _ in range(2)}
    assert len(ids) == 1 and Batch.objects.count() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "é"])
@pytest.mark.django_db
def test_a_malformed_key_is_400(client, alice, team_a, clip_url, key):
    response = post(client, bearer(alice), {"team": team_a.slug, "url": clip_url}, key)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_with_one_key_make_one_submission(
    alice, team_a, clip_url, monkeypatch
):
    """Both pass the look for an earlier answer before either commits (a barrier in the URL
    check holds them there), each on its own database connection: only the unique
    constraint can stop the second."""
    headers, body = bearer(alice), {"team": team_a.slug, "url": clip_url}
    both_checked = threading.Barrier(2, timeout=20)
    real_check = submitting.check_link

    def check_then_wait(*args, **kwargs):
        found = real_check(*args, **kwargs)
        both_checked.wait()
        return found

    monkeypatch.setattr(submitting, "check_link", check_then_wait)
    answers = []

    def request():
        try:
            answers.append(post(Client(), headers, body, "same-key"))
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [201, 201], [a.content[:300] for a in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert Submission.objects.count() == 1
    assert sum(a.has_header("Idempotent-Replayed") for a in answers) == 1


@pytest.mark.django_db
def test_a_request_refused_after_the_same_key_committed_gets_that_answer(alice):
    """It looked for an earlier answer before the other request with its key committed, and
    was checked after: the other's submission makes it a duplicate (400), yet it answers
    what the other made."""
    bearer(alice)
    token = ApiToken.objects.get(user=alice)
    request = SimpleNamespace(
        headers={"Idempotency-Key": "k"}, auth=token, data={"url": "u"}, method="POST",
        path=SUBMISSIONS, META={},
    )  # fmt: skip

    def prepare():  # meanwhile, the other request commits its key and its answer
        IdempotencyKey.objects.create(
            token=token, key="k", request_hash=idempotency._fingerprint(request),
            status_code=201, response={"id": 7},
        )  # fmt: skip
        return Response({"detail": "A duplicate."}, status=400)

    answer = idempotency.respond_once(request, prepare, make=None, answer=None)
    assert (answer.status_code, answer.data) == (201, {"id": 7})
    assert answer["Idempotent-Replayed"] == "true"
