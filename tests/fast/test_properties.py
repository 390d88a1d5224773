"""Property-based: whatever arrives, the answer is never a 5xx, and nothing changes
unless the input was valid."""

import json
from datetime import datetime
from urllib.parse import quote, urlencode

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, event, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.conftest import give_callback_token
from tests.factories import SubmissionFactory
from uploads.forms import SubmissionForm
from uploads.models import API_STATUS_TO_STATUS, Status, Submission
from uploads.submitting import ready_to_submit

pytestmark = pytest.mark.django_db

EXAMPLES = hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
VIDEO_NO = "VI554046065381212160"
REAL = "<the real token>"
DROP = object()  # a field left out

# --- the callback ------------------------------------------------------------------


def mostly(usual, other):
    """`usual` two times in three, else `other` (one_of leaves the mix to Hypothesis)."""
    return st.integers(0, 2).flatmap(lambda n: other if n == 0 else usual)


# Each field is mostly valid, else anything or left out: changes happen often
# enough to be checked, and every way of being wrong is tried.
anything = st.one_of(
    st.text(max_size=80), st.integers(), st.none(), st.booleans(), st.floats(),
    st.lists(st.text(max_size=5), max_size=3), st.just(DROP),
)  # fmt: skip
statuses = mostly(
    st.sampled_from(list(API_STATUS_TO_STATUS)),
    st.sampled_from(["DONE", "parse", "", "PARSE "]) | anything,
)
video_nos = mostly(
    st.sampled_from([VIDEO_NO, VIDEO_NO, "", DROP]),
    st.sampled_from(["VI1", "V" * 65, "VI\x00123", "VI 1", "VÍ1", "<b>1</b>", "VI-1.a:b"])
    | anything,
)
fields = st.fixed_dictionaries(
    {"status": statuses, "videoNo": video_nos, "extra": mostly(st.just(DROP), anything)}
).map(lambda d: {k: v for k, v in d.items() if v is not DROP})
any_content_type = st.one_of(
    st.sampled_from([
        "application/json; charset=latin-1", "application/x-www-form-urlencoded; charset=nope",
        "multipart/form-data; boundary=xyz", "multipart/form-data", "text/plain", "",
    ]),
    st.text(max_size=60),
)  # fmt: skip


def sent_as(kind, encode, usual_type):
    """Bodies of one kind, usually with their own content type, sometimes with any."""
    content_type = mostly(st.just(usual_type), any_content_type)
    return st.tuples(st.just(kind), encode, content_type)


form_type = "application/x-www-form-urlencoded"
bodies = st.one_of(
    sent_as("json", fields.map(lambda d: json.dumps(d).encode()), "application/json"),
    sent_as("json", fields.map(lambda d: json.dumps(d).encode()), "application/json"),
    sent_as("form", fields.map(lambda d: urlencode({k: str(v) for k, v in d.items()}).encode()),
            form_type),
    sent_as("bytes", st.binary(max_size=600), "application/json"),
    sent_as("bytes", st.text(max_size=200).map(str.encode), form_type),
    sent_as("big", st.integers(17000, 20000).map(lambda n: b'{"p": "' + b"x" * n + b'"}'),
            "application/json"),
)  # fmt: skip
other_tokens = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789-_", min_size=0, max_size=120),
    st.text(max_size=60),
)
tokens = mostly(st.just(REAL), other_tokens)


def snapshot(submission):
    submission.refresh_from_db()
    events = list(submission.events.values_list("id", "repeat_count"))
    return (submission.status, submission.api_status, submission.video_no, events)


def decoded_status(kind, raw):
    """The status the callback carried, if it was readable at all."""
    try:
        if kind == "form":
            from urllib.parse import parse_qs

            return parse_qs(raw.decode()).get("status", [None])[0]
        payload = json.loads(raw)
    except ValueError:
        return None
    return payload.get("status") if isinstance(payload, dict) else None


@pytest.fixture
def no_limits(settings):
    settings.CALLBACK_UNKNOWN_TOKENS_PER_MINUTE = 10**6
    settings.CALLBACK_CALLS_PER_TOKEN_PER_HOUR = 10**6


# Where the submission stands when the callback comes: accepted (with its video
# number), still sending or needing review (none yet), or done.
starts = st.sampled_from(["accepted", Status.SENDING, Status.NEEDS_REVIEW, Status.PARSED])


@EXAMPLES
@given(token=tokens, body=bodies, start=starts)
# Always tried: PostgreSQL refuses a NUL in a text column; an unknown charset.
@example(
    REAL,
    ("json", b'{"status": "UNPARSE", "videoNo": "VI\\u0000"}', "application/json"),
    Status.SENDING,
)
@example(
    REAL,
    ("form", b"status=PARSE&videoNo=VI%00", "application/x-www-form-urlencoded"),
    Status.NEEDS_REVIEW,
)
@example(
    REAL, ("form", b"status=PARSE", "application/x-www-form-urlencoded; charset=nope"), "accepted"
)
def test_the_callback_never_fails_and_changes_only_on_valid_input(
    client, alice, team_a, no_limits, token, body, start
):
    status = Status.SENDING if start == "accepted" else start
    submission = SubmissionFactory(team=team_a, submitter=alice, status=status)
    real = give_callback_token(submission)
    if start == "accepted":
        submission.mark_accepted(video_no=VIDEO_NO, api_status="UNPARSE", message="Accepted.")
    before = snapshot(submission)
    kind, raw, content_type = body
    path = "/callbacks/memories/" + quote(real if token == REAL else token, safe="") + "/"

    response = client.generic("POST", path, raw, content_type=content_type)

    assert response.status_code < 500
    event(f"answered {response.status_code}")
    after = snapshot(submission)
    if after != before:
        assert token == REAL
        assert response.status_code == 200
        assert decoded_status(kind, raw) in API_STATUS_TO_STATUS
    if token != REAL:
        assert response.status_code in (404, 413)


# --- the submission form -------------------------------------------------------------

degrees = st.decimals(min_value=-90, max_value=90, places=4).map(str)
valid_form = st.fixed_dictionaries(
    {
        "team": st.just("mine"),
        # Links on the local video server (the form probes them): a file, a playlist.
        "url": st.sampled_from(["/clip.mp4", "/ok.m3u8"]),
    },
    optional={
        "datetime_taken": st.datetimes(max_value=datetime(2025, 1, 1)).map(str),
        "camera_model": st.text(max_size=128),
        "latitude": degrees,
        "longitude": degrees,
        "tags": st.lists(st.text(max_size=64), max_size=20).map(", ".join),
        "retain_original_video": st.sampled_from(["on", "true", "false", "0", ""]),
        "video_transcription_prompt": st.text(max_size=2000),
    },
)
# What a field may be replaced with: anything, and the near misses.
odd_values = st.one_of(
    st.text(max_size=300),
    st.sampled_from([
        "theirs", "", "0", "-1", "1e3", "NaN", "Infinity", "91", "-180.00000001", "1.123456789",
        "2999-01-01 00:00", "2024-02-30 10:00", "ftp://videos.example.com/a",
        "https://user:pw@example.com/a.mp4", "https://10.0.0.1/a", "https://example.com:8443/a",
        "javascript:alert(1)", "https://" + "a" * 2100, "https://exa mple.com/a", "http:///a",
        "a," * 25, "x" * 129, "p" * 2001,
    ]),
)  # fmt: skip
form_changes = st.dictionaries(
    st.sampled_from(
        ["team", "url", "datetime_taken", "camera_model", "latitude", "longitude", "tags",
         "retain_original_video", "video_transcription_prompt"]
    ),
    odd_values | st.just(DROP),
    max_size=3,
)  # fmt: skip
form_values = st.builds(
    lambda valid, changed: {k: v for k, v in {**valid, **changed}.items() if v is not DROP},
    valid_form,
    form_changes,
)


@EXAMPLES
@given(values=form_values)
def test_the_form_never_fails_and_creates_only_valid_submissions(
    client, alice, team_a, team_b, video_server, values
):
    data = dict(values)
    if data.get("url") in ("/clip.mp4", "/ok.m3u8"):
        data["url"] = video_server.url + data["url"]
    if "team" in data:
        data["team"] = {"mine": team_a.pk, "theirs": team_b.pk}.get(data["team"], data["team"])
    valid = ready_to_submit(SubmissionForm(data, user=alice))
    client.force_login(alice)
    count = Submission.objects.count()

    response = client.post(reverse("submission_new"), data)

    assert response.status_code < 500
    event("valid" if valid else "invalid")
    if valid:
        assert response.status_code == 302
        assert Submission.objects.count() == count + 1
        created = Submission.objects.latest("id")
        assert created.team == team_a and created.submitter == alice
    else:
        assert response.status_code == 200
        assert Submission.objects.count() == count
