"""Strict JSON types at every JSON door of the API: a boolean is `true` or `false`, a list is
a list, text is a string; anything else is a 400 problem naming the field, before the
forms (the one judge of what a valid value is) read it. And a body's limits hold for a
chunked body too."""

import io
import json

import pytest

from tests.conftest import make_batch
from uploads.models import Batch, Submission

pytestmark = pytest.mark.django_db


def post(client, headers, path, body):
    return client.post(path, body, content_type="application/json", **headers)


def refused_fields(response):
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()["errors"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("confirm_public", "maybe"),
        ("retain_original_video", "maybe"),
        ("send_again", 1),
        ("retain_original_video", None),
        ("tags", {"a": 1}),
        ("tags", ["beach", 5]),
        ("url", ["https://videos.example.com/a.mp4"]),
        ("camera_model", 5),
        ("latitude", True),
        ("latitude", [1]),
        ("datetime_taken", 20250101),
        ("team", 1.5),
        ("video_transcription_prompt", {"text": "x"}),
    ],
)
def test_a_submission_field_of_the_wrong_json_type_is_refused_by_name(
    client, as_alice, team_a, clip_url, field, value
):
    body = {"team": team_a.slug, "url": clip_url, field: value}
    errors = refused_fields(post(client, as_alice, "/api/v1/submissions", body))
    assert list(errors) == [field]
    assert errors[field][0].startswith("Give ")
    assert not Submission.objects.exists()


def test_the_json_types_a_field_takes_are_all_accepted(client, as_alice, team_a, clip_url):
    body = {"team": team_a.pk, "url": clip_url, "latitude": 48.85, "longitude": "2,35",
            "tags": "beach, dawn", "retain_original_video": False, "datetime_taken": None,
            "confirm_public": True}  # fmt: skip
    response = post(client, as_alice, "/api/v1/submissions", body)
    assert response.status_code == 201, response.content
    assert Submission.objects.get().tags == ["beach", "dawn"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"confirm": "yes"}, "confirm"),
        ({"send_again": "true"}, "send_again"),
        ({"tags": 3}, "tags"),
        ({"rows": [{"url": "https://a.example/1.mp4", "retain_original_video": "maybe"}]},
         "rows[0].retain_original_video"),
        ({"rows": [{"url": "https://a.example/1.mp4"}, {"url": ["x"]}]}, "rows[1].url"),
        ({"rows": [{"url": "https://a.example/1.mp4", "tags": {"a": 1}}]}, "rows[0].tags"),
    ],
)  # fmt: skip
def test_a_batch_field_of_the_wrong_json_type_is_refused_by_name(
    client, as_alice, team_a, body, field
):
    body = {"team": team_a.slug, "rows": [{"url": "https://a.example/0.mp4"}], **body}
    errors = refused_fields(post(client, as_alice, "/api/v1/batches", body))
    assert list(errors) == [field]
    assert not Batch.objects.exists()


def test_confirming_takes_json_booleans_only(client, alice, as_alice, team_a, clip_url):
    batch = make_batch(client, alice, team_a, urls=clip_url)
    path = f"/api/v1/batches/{batch.pk}/confirm"
    errors = refused_fields(post(client, as_alice, path, {"confirm_public": "maybe"}))
    assert list(errors) == ["confirm_public"]


def chunked(client, headers, path, body):
    """POST `body` as a chunked request: no Content-Length, read to the end of the server's
    input (as gunicorn gives it, decoded)."""
    environ = {"CONTENT_LENGTH": "", "CONTENT_TYPE": "application/json",
               "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(body),
               "wsgi.input_terminated": True}  # fmt: skip
    return client.generic("POST", path, **headers, **environ)


def test_a_chunked_body_over_the_limit_is_413(client, as_alice, team_a):
    rows = [{"url": "https://videos.example.com/a.mp4", "camera_model": "x" * 1024}] * 11_000
    body = json.dumps({"team": team_a.slug, "rows": rows}).encode()
    assert len(body) > 11 * 1024**2
    response = chunked(client, as_alice, "/api/v1/batches", body)
    assert response.status_code == 413, response.content
    assert response["Content-Type"] == "application/problem+json"


def test_a_chunked_body_within_the_limit_is_read(client, as_alice, team_a, clip_url):
    body = json.dumps({"team": team_a.slug, "url": clip_url}).encode()
    response = chunked(client, as_alice, "/api/v1/submissions", body)
    assert response.status_code == 201, response.content


def test_a_chunked_body_a_server_does_not_end_is_411(client, as_alice, team_a, clip_url):
    body = json.dumps({"team": team_a.slug, "url": clip_url}).encode()
    environ = {"CONTENT_LENGTH": "", "CONTENT_TYPE": "application/json",
               "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(body)}  # fmt: skip
    response = client.generic("POST", "/api/v1/submissions", **as_alice, **environ)
    assert response.status_code == 411
