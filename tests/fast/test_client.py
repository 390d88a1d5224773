"""The memories.ai client against the sandbox over real HTTP: every response code."""

import socket

import pytest

from uploads.memories import client as api
from uploads.memories.sandbox import Sandbox

UPLOAD = api.UploadRequest(
    url="https://videos.example.com/a.mp4",
    unique_id="alpha-scope",
    datetime_taken="2025-10-20 11:00:00",
    camera_model="Canon EOS 5D",
    latitude="39.9042",
    longitude="116.4074",
    tags=["one", "two"],
    retain_original_video=True,
    video_transcription_prompt="Focus on the speaker.",
)


@pytest.fixture
def sb():
    with Sandbox(uploads_per_interval=1000, rate_interval=1.0, callbacks_enabled=False) as sb:
        yield sb


def client_for(sb, key=None, read_timeout=2.0):
    return api.MemoriesClient(sb.url, key or sb.api_key, read_timeout=read_timeout)


def test_an_accepted_upload_returns_the_video_number(sb):
    accepted = client_for(sb).upload_url(UPLOAD)
    assert accepted.video_no.startswith("VI")
    assert accepted.video_status == "UNPARSE"
    fields = sb.uploads[-1].fields
    assert fields["tags"] == ["one", "two"]
    assert fields["unique_id"] == ["alpha-scope"]
    assert fields["latitude"] == ["39.9042"]
    assert fields["retain_original_video"] == ["true"]
    assert sb.videos[accepted.video_no]["unique_id"] == "alpha-scope"


def test_it_sends_the_raw_key_without_bearer(sb):
    with pytest.raises(api.AccountProblem) as exc:
        client_for(sb, key="Bearer " + sb.api_key).upload_url(UPLOAD)
    assert exc.value.code == "0401"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("0001", api.InvalidRequest),
        ("0003", api.InvalidRequest),
        ("0409", api.InvalidRequest),
        ("0401", api.AccountProblem),
        ("0402", api.AccountProblem),
        ("0403", api.AccountProblem),
        ("9009", api.AccountProblem),
        ("0429", api.RateLimited),
    ],
)
def test_each_envelope_code_becomes_its_typed_outcome(sb, code, error):
    sb.set_fault("code", times=1, code=code, msg=f"sandbox says {code}")
    with pytest.raises(error) as exc:
        client_for(sb).upload_url(UPLOAD)
    assert exc.value.code == code


def test_the_rate_limit_is_a_retry_safe_outcome(sb):
    sb.set_fault("rate_limit", times=1)
    with pytest.raises(api.RateLimited) as exc:
        client_for(sb).upload_url(UPLOAD)
    assert isinstance(exc.value, api.NotSent)


@pytest.mark.parametrize("fault", ["http_502", "http_503"])
def test_gateway_errors_mean_not_taken(sb, fault):
    sb.set_fault(fault, times=1)
    with pytest.raises(api.NotSent):
        client_for(sb).upload_url(UPLOAD)


@pytest.mark.parametrize("fault", ["http_500", "http_504", "malformed", "drop"])
def test_answers_after_sending_that_say_nothing_are_unknown_outcomes(sb, fault):
    sb.set_fault(fault, times=1)
    with pytest.raises(api.UnknownOutcome) as exc:
        client_for(sb).upload_url(UPLOAD)
    assert not isinstance(exc.value, api.NotSent)


def test_a_read_timeout_is_an_unknown_outcome(sb):
    sb.set_fault("slow", times=1, seconds=1.0)
    with pytest.raises(api.UnknownOutcome):
        client_for(sb, read_timeout=0.2).upload_url(UPLOAD)


def test_a_refused_connection_is_not_sent():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(api.NotSent):
        api.MemoriesClient(f"http://127.0.0.1:{port}", "sk-x").upload_url(UPLOAD)


def test_a_dns_failure_is_not_sent():
    with pytest.raises(api.NotSent):
        api.MemoriesClient("http://no-such-host.invalid", "sk-x").upload_url(UPLOAD)


def test_integer_style_codes_are_understood():
    with Sandbox(code_style="int", uploads_per_interval=1, rate_interval=60.0) as sb:
        client = client_for(sb)
        assert client.upload_url(UPLOAD).video_no
        with pytest.raises(api.RateLimited):
            client.upload_url(UPLOAD)
        sb.set_fault("code", times=1, code="0402")  # answered as 402
        with pytest.raises(api.AccountProblem):
            client.upload_url(UPLOAD)


def test_list_videos_reads_snake_case_statuses(sb):
    client = client_for(sb)
    accepted = client.upload_url(UPLOAD)
    sb.set_video_status(accepted.video_no, "PARSE")
    [video] = client.list_videos("alpha-scope", [accepted.video_no])
    assert (video.video_no, video.status) == (accepted.video_no, "PARSE")
    assert client.list_videos("other-scope", [accepted.video_no]) == []


def test_get_metadata_reads_one_status(sb):
    client = client_for(sb)
    accepted = client.upload_url(UPLOAD)
    assert client.get_metadata(accepted.video_no, "alpha-scope").status == "UNPARSE"


def test_the_key_never_appears_in_the_clients_repr():
    assert "sk-secret" not in repr(api.MemoriesClient("http://x", "sk-secret"))
