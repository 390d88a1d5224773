"""The callback's size limit and abuse limits, and where the client address comes from."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import ACCEPTED_VIDEO_NO
from uploads.models import Event, Status

VIDEO_NO = ACCEPTED_VIDEO_NO
PARSE = json.dumps({"videoNo": VIDEO_NO, "status": "PARSE"})
UNPARSE = json.dumps({"videoNo": VIDEO_NO, "status": "UNPARSE"})

pytestmark = pytest.mark.django_db


def post(client, url, body=PARSE, **extra):
    return client.post(url, body, content_type="application/json", **extra)


def unknown_url(n):
    return reverse("memories_callback", args=[f"unknown-token-{n:04d}-" + "x" * 30])


def test_the_body_limit_is_a_setting(client, sent, settings):
    submission, url = sent
    settings.CALLBACK_MAX_BODY_BYTES = 40
    assert post(client, url, json.dumps({"status": "PARSE", "pad": "x" * 40})).status_code == 413
    settings.CALLBACK_MAX_BODY_BYTES = 400
    assert post(client, url).status_code == 200


def test_a_body_over_the_limit_is_refused_before_the_token_is_looked_up(
    client, sent, django_assert_num_queries
):
    _, url = sent
    with django_assert_num_queries(0):
        response = post(client, url, json.dumps({"status": "PARSE", "pad": "x" * 17000}))
    assert response.status_code == 413


def test_an_address_guessing_tokens_is_told_to_slow_down(client, settings):
    settings.CALLBACK_UNKNOWN_TOKENS_PER_MINUTE = 5
    answers = [post(client, unknown_url(n)).status_code for n in range(7)]
    assert answers == [404] * 5 + [429] * 2
    assert int(post(client, unknown_url(8))["Retry-After"]) <= 61


def test_a_guessing_address_does_not_block_a_known_token(client, sent, settings):
    submission, url = sent
    settings.CALLBACK_UNKNOWN_TOKENS_PER_MINUTE = 3
    for n in range(5):
        post(client, unknown_url(n))
    assert post(client, url).status_code == 200
    submission.refresh_from_db()
    assert submission.status == Status.PARSED


def test_unknown_tokens_are_counted_per_address(client, settings):
    settings.CALLBACK_UNKNOWN_TOKENS_PER_MINUTE = 2
    for n in range(3):
        post(client, unknown_url(n), REMOTE_ADDR="198.51.100.7")
    assert post(client, unknown_url(9), REMOTE_ADDR="198.51.100.7").status_code == 429
    assert post(client, unknown_url(9), REMOTE_ADDR="198.51.100.8").status_code == 404


def test_a_spoofed_forwarded_header_does_not_reset_the_count(client, settings):
    settings.CALLBACK_UNKNOWN_TOKENS_PER_MINUTE = 2
    for n in range(3):
        post(client, unknown_url(n), HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert post(client, unknown_url(9), HTTP_X_FORWARDED_FOR="203.0.113.99").status_code == 429


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(client, settings):
    settings.CALLBACK_UNKNOWN_TOKENS_PER_MINUTE = 2
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for n in range(3):
        post(client, unknown_url(n), HTTP_X_FORWARDED_FOR=f"9.9.9.{n}, 198.51.100.7", **proxy)
    # The same client behind the proxy, whatever it writes in front of its address.
    spoofed = {"HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.7", **proxy}
    assert post(client, unknown_url(9), **spoofed).status_code == 429
    # Another client behind the same proxy is not affected.
    other = {"HTTP_X_FORWARDED_FOR": "198.51.100.8", **proxy}
    assert post(client, unknown_url(9), **other).status_code == 404


def test_a_token_called_too_often_gets_429_without_work(client, sent, settings):
    submission, url = sent
    settings.CALLBACK_CALLS_PER_TOKEN_PER_HOUR = 4
    for _ in range(4):
        assert post(client, url, UNPARSE).status_code == 200
    events_before = submission.events.count()
    with CaptureQueriesContext(connection) as queries:
        response = post(client, url)
    assert response.status_code == 429
    # A counting UPDATE whose condition matches no row, and the token's lookup;
    # nothing written.
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    assert [s for s in statements if s not in ("SAVEPOINT", "RELEASE")] == ["UPDATE", "SELECT"]
    submission.refresh_from_db()
    assert submission.callback_calls == 4
    submission.refresh_from_db()
    assert submission.status == Status.PROCESSING
    assert submission.events.count() == events_before
    assert int(response["Retry-After"]) <= 3601


def test_the_default_limits_leave_room_for_a_videos_callbacks(client, sent):
    submission, url = sent
    statuses = ["UNPARSE"] * 10 + ["PARSE"] * 10 + ["UNPARSE"] * 10
    for status in statuses:
        body = json.dumps({"videoNo": VIDEO_NO, "status": status})
        assert post(client, url, body).status_code == 200
    submission.refresh_from_db()
    assert submission.status == Status.PARSED
    callbacks = submission.events.filter(kind=Event.Kind.CALLBACK)
    assert sum(1 + e.repeat_count for e in callbacks) == len(statuses)
