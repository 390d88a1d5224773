"""The URL probe wired into the submission form and the sender (the probe itself: test_probe)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import SubmissionFactory
from uploads.forms import SubmissionForm
from uploads.models import Event, Status, Submission
from uploads.sending import sender as sending
from uploads.submitting import ready_to_submit
from uploads.urlcheck.probe import format_size


@pytest.fixture
def submit(client, alice, team_a):
    client.force_login(alice)

    def post(url, **fields):
        return client.post(reverse("submission_new"), {"team": team_a.pk, "url": url, **fields})

    return post


def url_errors(response):
    return " ".join(response.context["form"].errors.get("url", []))


def test_what_the_probe_learned_is_kept_and_shown(submit, video_server, client):
    response = submit(video_server.url + "/clip.mp4")
    submission = Submission.objects.get()
    assert response.url == submission.get_absolute_url()
    assert submission.url_check["reachable"] is True
    assert submission.url_check["content_type"] == "video/mp4"
    assert submission.url_check["size"] == 1_000_000
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "video/mp4" in page and format_size(1_000_000) in page


def test_a_web_page_is_refused(submit, video_server):
    response = submit(video_server.url + "/page.html")
    assert "looks like a web page" in url_errors(response)
    assert not Submission.objects.exists()


def test_an_oversize_file_is_refused_without_the_teams_permission(submit, video_server, team_a):
    response = submit(video_server.url + "/big.mp4")
    assert "up to 1.00 GB" in url_errors(response)
    team_a.large_files_allowed = True
    team_a.save()
    assert submit(video_server.url + "/big.mp4").status_code == 302


def test_a_playlist_with_a_relative_path_is_refused_naming_the_line(submit, video_server):
    response = submit(video_server.url + "/relative.m3u8")
    assert "Line 11" in url_errors(response) and "seg2.ts" in url_errors(response)


def test_a_playlist_of_absolute_urls_is_accepted_with_its_estimate(submit, video_server):
    submit(video_server.url + "/ok.m3u8")
    found = Submission.objects.get().url_check
    assert found["is_playlist"] and found["segment_count"] == 3
    assert found["estimated_size"] == 3000


def test_an_unreachable_link_offers_the_confirmation_and_then_accepts_it(submit, video_server):
    url = video_server.url + "/missing.mp4"
    response = submit(url)
    assert "404" in url_errors(response)
    assert response.context["form"].offer_confirm_public
    assert "I confirm this URL is publicly reachable" in response.content.decode()
    assert not Submission.objects.exists()
    assert submit(url, confirm_public="on").status_code == 302
    submission = Submission.objects.get()
    assert submission.confirm_public is True
    assert submission.url_check["reachable"] is False


def test_the_confirmation_never_overrides_a_refusal(submit, video_server):
    response = submit(video_server.url + "/page.html", confirm_public="on")
    assert "looks like a web page" in url_errors(response)
    assert not Submission.objects.exists()


def test_the_form_keeps_what_was_typed(submit, video_server):
    response = submit(video_server.url + "/page.html", camera_model="GoPro 12", tags="a, b")
    page = response.content.decode()
    assert 'value="GoPro 12"' in page and 'value="a, b"' in page


def test_the_probe_is_skipped_when_the_url_is_already_refused(alice, team_a, settings):
    settings.URL_PROBE_ALLOW_PRIVATE = False
    form = SubmissionForm({"team": team_a.pk, "url": "http://10.0.0.1/a.mp4"}, user=alice)
    assert not ready_to_submit(form)
    assert len(form.errors["url"]) == 1


@pytest.fixture
def long_waiting(team_a, alice, video_server):
    def make(path, **fields):
        created = timezone.now() - timedelta(minutes=30)
        return SubmissionFactory(
            team=team_a, submitter=alice, url=video_server.url + path, created_at=created,
            url_check={"reachable": True, "checked_at": created.isoformat()}, **fields,
        )  # fmt: skip

    return make


def test_a_link_that_died_while_waiting_fails_without_using_a_slot(
    long_waiting, video_server, sandbox
):
    submission = long_waiting("/expiring.mp4")
    video_server.expired = True
    try:
        assert sending.send_next()[0] == "idle"
    finally:
        video_server.expired = False
    submission.refresh_from_db()
    assert submission.status == Status.FAILED
    assert "stopped working while it waited" in submission.error_message
    assert sandbox.uploads == []


def test_a_link_still_alive_after_waiting_is_sent(long_waiting, sandbox):
    submission = long_waiting("/clip.mp4")
    assert sending.send_next()[0] == f"sent {submission.pk}"
    submission.refresh_from_db()
    assert submission.status == Status.PROCESSING
    assert "rechecked_at" in submission.url_check
    assert submission.events.filter(kind=Event.Kind.ACCEPTED).exists()


def test_a_fresh_submission_is_not_checked_again(team_a, alice, video_server, sandbox):
    video_server.expired = True
    try:
        submission = SubmissionFactory(
            team=team_a, submitter=alice, url=video_server.url + "/expiring.mp4"
        )
        sending.send_next()
    finally:
        video_server.expired = False
    submission.refresh_from_db()
    assert submission.status == Status.PROCESSING


def test_the_private_switch_lets_only_loopback_through(submit, settings):
    assert settings.URL_PROBE_ALLOW_PRIVATE  # as in every test
    for url in ["http://10.0.0.1/a.mp4", "https://169.254.169.254/latest", "http://[fd00::1]/"]:
        response = submit(url, confirm_public="on")
        assert "memories.ai cannot reach it" in url_errors(response), url
    assert not Submission.objects.exists()


def test_no_test_can_connect_beyond_this_machine():
    import socket

    with socket.socket() as sock, pytest.raises(AssertionError, match="10.0.0.1"):
        sock.connect(("10.0.0.1", 443))
