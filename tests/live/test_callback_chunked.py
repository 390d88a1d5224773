"""Chunked callback bodies, through gunicorn (it decodes chunks; Django's test client
and development server cannot send or read them), from `http.client`."""

import http.client
import json

import pytest
from django.urls import reverse

from tests.conftest import ACCEPTED_VIDEO_NO as VIDEO_NO
from tests.conftest import PARSE_BODY as PARSE
from tests.conftest import callback_unapplied as unchanged
from tests.conftest import give_callback_token
from tests.factories import SubmissionFactory
from tests.servers import serving
from uploads.models import Status

# --- chunked bodies, through gunicorn -----------------------------------------------


@pytest.fixture
def server(transactional_db, tmp_path, settings):
    """gunicorn on the test database, one sync worker: (host, port)."""
    env = {"GUNICORN_WORKERS": "1", "GUNICORN_ACCESS_LOG": "off",
           "CALLBACK_MAX_BODY_BYTES": str(settings.CALLBACK_MAX_BODY_BYTES)}  # fmt: skip
    with serving(tmp_path / "gunicorn.log", **env) as (port, _):
        yield "127.0.0.1", port


def post_chunked(address, path, pieces, timeout=10):
    """POST `pieces` as chunks (no Content-Length); (status, JSON answer)."""
    connection_ = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        connection_.request(
            "POST",
            path,
            body=iter(pieces),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection_.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection_.close()


@pytest.mark.django_db(transaction=True)
def test_a_chunked_callback_is_read_and_applied(server, alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.SENDING)
    token = give_callback_token(submission)
    submission.mark_accepted(video_no=VIDEO_NO, api_status="UNPARSE", message="Accepted.")
    pieces = [PARSE[i : i + 7] for i in range(0, len(PARSE), 7)]
    status, answer = post_chunked(server, reverse("memories_callback", args=[token]), pieces)
    assert (status, answer) == (200, {"ok": True, "result": "changed"})
    submission.refresh_from_db()
    assert submission.status == Status.PARSED


@pytest.mark.django_db(transaction=True)
def test_a_chunked_callback_over_the_limit_is_413(server, alice, team_a, settings):
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.SENDING)
    token = give_callback_token(submission)
    submission.mark_accepted(video_no=VIDEO_NO, api_status="UNPARSE", message="Accepted.")
    limit = settings.CALLBACK_MAX_BODY_BYTES
    padded = json.dumps({"videoNo": VIDEO_NO, "status": "PARSE", "pad": "x" * limit}).encode()
    pieces = [padded[i : i + 4096] for i in range(0, len(padded), 4096)]
    status, answer = post_chunked(server, reverse("memories_callback", args=[token]), pieces)
    assert status == 413
    assert answer == {"error": "Body too large."}
    assert unchanged(submission)
    # Exactly at the limit is still read (and refused only for what it says).
    exact = b'{"pad": "' + b"x" * (limit - 11) + b'"}'
    assert len(exact) == limit
    status, answer = post_chunked(server, reverse("memories_callback", args=[token]), [exact])
    assert (status, answer["error"]) == (400, "status must be UNPARSE, PARSE or PARSE_ERROR.")


@pytest.mark.django_db(transaction=True)
def test_a_server_that_cannot_read_chunks_asks_for_a_length(live_server, sent):
    """Django's development server hands the app no chunked body: 411, not a hang or a 400."""
    submission, path = sent
    address = live_server.url.removeprefix("http://").split(":")
    status, answer = post_chunked((address[0], int(address[1])), path, [PARSE])
    assert status == 411
    assert "Content-Length" in answer["error"]
    assert unchanged(submission)
