"""How the callback reads its body: bounded, chunked or not, before any transaction.

Chunked bodies, through gunicorn: tests/live/test_callback_chunked.py.
"""

import pytest

from tests.conftest import ACCEPTED_VIDEO_NO as VIDEO_NO
from tests.conftest import callback_unapplied as unchanged
from uploads.models import Status


@pytest.mark.parametrize(
    "body, content_type, reason",
    [
        (b"[" * 15_000, "application/json", "nests too deeply"),
        (b'{"status": "PARSE", "x": ' + b"[" * 15_000, "application/json", "nests too deeply"),
        (b'{"videoNo": "\xff\xfe\xfa", "status": "PARSE"}', "application/json", "not UTF-8"),
        (b'{"status": "PARSE", "n": ' + b"9" * 5000 + b"}", "application/json", "not valid JSON"),
        (b"--x\r\nrubbish", "multipart/form-data", "form data"),
        (b"status=PARSE&videoNo=" + b"%ff" * 3, "application/x-www-form-urlencoded", "videoNo"),
    ],
)
def test_an_unreadable_body_is_400_with_the_reason(client, sent, body, content_type, reason):
    submission, url = sent
    response = client.post(url, body, content_type=content_type)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert unchanged(submission)


def test_a_multipart_form_callback_is_applied(client, sent):
    submission, url = sent
    response = client.post(url, {"videoNo": VIDEO_NO, "status": "PARSE"})  # multipart
    assert response.status_code == 200
    submission.refresh_from_db()
    assert submission.status == Status.PARSED
