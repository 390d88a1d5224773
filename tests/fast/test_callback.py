import json
from pathlib import Path

import pytest
from django.urls import reverse

from tests.conftest import ACCEPTED_VIDEO_NO, give_callback_token
from tests.factories import SubmissionFactory
from uploads.models import Event, Status, new_callback_token

DATA = Path(__file__).resolve().parents[1] / "data"
VIDEO_NO = ACCEPTED_VIDEO_NO


def body(name):
    return (DATA / name).read_text()


def post_json(client, url, payload):
    return client.post(url, payload, content_type="application/json")


def test_parse_callback_moves_processing_to_done(client, sent):
    submission, url = sent
    response = post_json(client, url, body("callback_parse.json"))
    assert response.status_code == 200
    submission.refresh_from_db()
    assert submission.status == Status.PARSED
    assert submission.api_status == "PARSE"
    assert submission.finished_at is not None
    assert submission.events.filter(kind=Event.Kind.CALLBACK, to_status=Status.PARSED).count() == 1


def test_parse_error_callback_is_final(client, sent):
    submission, url = sent
    post_json(client, url, body("callback_parse_error.json"))
    submission.refresh_from_db()
    assert submission.status == Status.PARSE_ERROR


def test_a_repeated_callback_makes_no_new_event_and_is_counted(client, sent):
    submission, url = sent
    for _ in range(3):
        assert post_json(client, url, body("callback_parse.json")).status_code == 200
    events = submission.events.filter(kind=Event.Kind.CALLBACK)
    assert events.count() == 1
    assert events.get().repeat_count == 2


def test_unparse_after_parse_never_regresses(client, sent):
    submission, url = sent
    post_json(client, url, body("callback_parse.json"))
    response = post_json(client, url, body("callback_unparse.json"))
    assert response.status_code == 200
    submission.refresh_from_db()
    assert submission.status == Status.PARSED
    assert submission.api_status == "PARSE"


def test_parse_error_after_parse_does_not_overwrite_the_final_status(client, sent):
    submission, url = sent
    post_json(client, url, body("callback_parse.json"))
    post_json(client, url, body("callback_parse_error.json"))
    submission.refresh_from_db()
    assert submission.status == Status.PARSED


def test_a_different_video_number_is_refused(client, sent):
    submission, url = sent
    response = post_json(client, url, {"videoNo": "VI999", "status": "PARSE"})
    assert response.status_code == 409
    submission.refresh_from_db()
    assert submission.status == Status.PROCESSING
    assert submission.video_no == VIDEO_NO


def test_unknown_token_is_404(client, sent):
    url = reverse("memories_callback", args=["x" * 43])
    assert post_json(client, url, body("callback_parse.json")).status_code == 404


@pytest.mark.parametrize(
    "payload",
    [
        "not json at all",
        "{broken",
        "[]",
        '"PARSE"',
        json.dumps({"videoNo": VIDEO_NO}),
        json.dumps({"videoNo": VIDEO_NO, "status": "DONE"}),
        json.dumps({"videoNo": VIDEO_NO, "status": 7}),
        json.dumps({"videoNo": ["a"], "status": "PARSE"}),
        json.dumps({"videoNo": "V" * 65, "status": "PARSE"}),
    ],
)
def test_garbage_bodies_are_400_and_change_nothing(client, sent, payload):
    submission, url = sent
    response = client.post(url, payload, content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.json()
    submission.refresh_from_db()
    assert submission.status == Status.PROCESSING
    assert not submission.events.filter(kind=Event.Kind.CALLBACK).exists()


def test_form_encoded_callbacks_are_accepted(client, sent):
    submission, url = sent
    response = client.post(url, {"videoNo": VIDEO_NO, "status": "PARSE"})
    assert response.status_code == 200
    submission.refresh_from_db()
    assert submission.status == Status.PARSED


def test_get_is_not_allowed(client, sent):
    _, url = sent
    assert client.get(url).status_code == 405


def test_a_huge_body_is_refused(client, sent):
    submission, url = sent
    payload = json.dumps({"videoNo": VIDEO_NO, "status": "PARSE", "pad": "x" * 20000})
    assert client.post(url, payload, content_type="application/json").status_code == 413
    submission.refresh_from_db()
    assert submission.status == Status.PROCESSING


def test_a_callback_resolves_needs_review_and_takes_the_video_number(client, team_a, alice):
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.NEEDS_REVIEW)
    token = give_callback_token(submission)
    url = reverse("memories_callback", args=[token])
    assert post_json(client, url, body("callback_unparse.json")).status_code == 200
    submission.refresh_from_db()
    assert submission.status == Status.PROCESSING
    assert submission.video_no == VIDEO_NO


def test_a_callback_that_beats_the_worker_moves_sending_on(client, team_a, alice):
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.SENDING)
    token = give_callback_token(submission)
    url = reverse("memories_callback", args=[token])
    post_json(client, url, body("callback_parse.json"))
    submission.mark_accepted(video_no=VIDEO_NO, api_status="UNPARSE", message="Accepted.")
    submission.refresh_from_db()
    assert submission.status == Status.PARSED
    assert submission.events.filter(kind=Event.Kind.ACCEPTED).count() == 1


def test_only_a_hash_of_the_token_is_stored(team_a, alice):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    token = give_callback_token(submission)
    submission.refresh_from_db()
    assert token not in submission.callback_token_hash
    assert len(token) >= 43  # 32 random bytes: 256 bits


def test_tokens_carry_at_least_128_random_bits_and_never_repeat():
    import base64

    tokens = {new_callback_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128


def test_the_token_is_compared_in_constant_time(client, sent, monkeypatch):
    import hmac

    from uploads import callback_handling

    calls = []
    compare = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(callback_handling.hmac, "compare_digest", spy)
    submission, url = sent
    assert post_json(client, url, body("callback_parse.json")).status_code == 200
    assert calls == [(submission.callback_token_hash, submission.callback_token_hash)]


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "PARSE"},
        {"status": "PARSE", "videoNo": ""},
        {"status": "PARSE", "videoNo": None},
    ],
)
def test_a_status_without_a_video_number_is_refused_and_moves_nothing(client, sent, payload):
    submission, url = sent
    response = post_json(client, url, payload)
    assert response.status_code == 400
    assert response.json()["error"] == "videoNo is missing: a callback names its video."
    submission.refresh_from_db()
    assert submission.status == Status.PROCESSING
