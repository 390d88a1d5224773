"""A submission's page: what it says when something went wrong, and what can be done there
(Submit again, Cancel, Resend and Mark failed, each asking first)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import SubmissionFactory
from uploads.models import PersonSettings, Status

pytestmark = pytest.mark.django_db
CONFIRMED = {"confirmed": "yes"}


def page_of(client, user, submission):
    client.force_login(user)
    return client.get(submission.get_absolute_url()).content.decode()


def test_cancel_asks_first_and_a_post_without_the_answer_cancels_nothing(client, alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(alice)
    url = reverse("submission_cancel", args=[submission.pk])
    question = client.get(url)
    assert question.status_code == 200
    assert "Cancel this submission?" in question.content.decode()
    assert client.post(url).status_code == 400
    submission.refresh_from_db()
    assert submission.status == Status.QUEUED
    client.post(url, CONFIRMED)
    submission.refresh_from_db()
    assert submission.status == Status.CANCELLED


def test_cancel_is_a_secondary_button_that_opens_a_dialog(client, alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    html = page_of(client, alice, submission)
    assert f'class="button button-secondary" href="/submissions/{submission.pk}/cancel/"' in html
    assert 'data-opens-dialog="confirm-cancel"' in html
    assert '<dialog class="confirm-dialog" id="confirm-cancel"' in html


@pytest.mark.parametrize("status", [Status.FAILED, Status.NEEDS_REVIEW])
def test_only_an_administrator_may_resend(client, alice, manager, superuser, team_a, status):
    submission = SubmissionFactory(team=team_a, submitter=alice, status=status)
    url = reverse("submission_resend", args=[submission.pk])
    for person in (alice, manager):
        assert "Resend" not in page_of(client, person, submission)
        client.post(url, CONFIRMED)
        submission.refresh_from_db()
        assert submission.status == status, person
    assert "Resend" in page_of(client, superuser, submission)
    assert client.post(url).status_code == 400  # not confirmed
    submission.refresh_from_db()
    assert submission.status == status
    client.post(url, CONFIRMED)
    submission.refresh_from_db()
    assert submission.status == Status.QUEUED
    assert submission.error_message == ""
    assert submission.events.last().actor == superuser


def test_only_an_administrator_may_mark_failed_and_only_what_needs_review(
    client, alice, manager, superuser, team_a
):
    review = SubmissionFactory(team=team_a, submitter=alice, status=Status.NEEDS_REVIEW)
    done = SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    client.force_login(manager)
    client.post(reverse("submission_mark_failed", args=[review.pk]), CONFIRMED)
    review.refresh_from_db()
    assert review.status == Status.NEEDS_REVIEW
    client.force_login(superuser)
    response = client.post(reverse("submission_mark_failed", args=[done.pk]), CONFIRMED)
    assert response.status_code == 302
    done.refresh_from_db()
    assert done.status == Status.PARSED
    client.post(reverse("submission_mark_failed", args=[review.pk]), CONFIRMED)
    review.refresh_from_db()
    assert review.status == Status.FAILED


@pytest.mark.parametrize(
    ("status", "offered"),
    [
        (Status.FAILED, True),
        (Status.PARSE_ERROR, True),
        (Status.CANCELLED, True),
        (Status.QUEUED, False),
        (Status.PARSED, False),
        (Status.NEEDS_REVIEW, False),
    ],
)
def test_submit_again_is_offered_for_what_ended_unprocessed(client, alice, team_a, status, offered):
    submission = SubmissionFactory(team=team_a, submitter=alice, status=status)
    assert ("Submit again" in page_of(client, alice, submission)) is offered


def test_submit_again_prefills_the_form(client, alice, team_a):
    submission = SubmissionFactory(
        team=team_a,
        submitter=alice,
        status=Status.FAILED,
        tags=["beach", "sunset"],
        latitude=Decimal("43.2965000"),
        longitude=Decimal("5.3698000"),
        camera_model="GoPro",
    )
    client.force_login(alice)
    form = client.get(reverse("submission_new") + f"?again={submission.pk}").context["form"]
    assert form["url"].value() == submission.url
    assert form["team"].value() == team_a.pk
    assert form["tags"].value() == "beach, sunset"
    assert form["latitude"].value() == "43.2965"
    assert form["camera_model"].value() == "GoPro"


def test_submit_again_of_another_teams_submission_is_404_and_bad_numbers_a_400(
    client, alice, outsider, team_a
):
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.FAILED)
    client.force_login(outsider)
    assert client.get(reverse("submission_new") + f"?again={submission.pk}").status_code == 404
    for bad in ("x", "-1", "1e3", "", "9" * 25):
        response = client.get(reverse("submission_new") + f"?again={bad}")
        assert response.status_code == 400, bad
        assert "needs the number of a submission" in response.content.decode()


def test_submit_again_of_a_submission_that_was_processed_is_a_400(client, alice, team_a):
    done = SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    client.force_login(alice)
    response = client.get(reverse("submission_new") + f"?again={done.pk}")
    assert response.status_code == 400
    assert "cannot be submitted again: only a failed, processing failed or cancelled one" in (
        response.content.decode()
    )


@pytest.mark.parametrize("status", [Status.FAILED, Status.PARSE_ERROR, Status.NEEDS_REVIEW])
def test_a_problem_is_told_in_plain_words_with_a_next_step(
    client, alice, superuser, team_a, status
):
    submission = SubmissionFactory(
        team=team_a,
        submitter=alice,
        status=status,
        error_code="504",
        error_message="HTTP 504 from upload_url",
    )
    html = page_of(client, alice, submission)
    assert 'class="problem-panel' in html
    assert "What to do next:" in html
    # The technical detail is there for a member only behind a closed details.
    assert '<details class="problem-detail"><summary>Technical detail</summary>' in html
    assert 'class="problem"' not in html
    assert '<p class="problem-detail"><strong>Recorded:' in page_of(client, superuser, submission)


def test_gps_is_short_with_a_map_link(client, alice, team_a):
    submission = SubmissionFactory(
        team=team_a, submitter=alice, latitude=Decimal("43.2965000"), longitude=Decimal("5.3698000")
    )
    html = page_of(client, alice, submission)
    assert "43.2965, 5.3698 <a" in html
    link = "https://www.openstreetmap.org/?mlat=43.2965&amp;mlon=5.3698#map=15/43.2965/5.3698"
    assert link in html


def test_the_map_is_the_one_map_url_names_or_none(client, alice, team_a, settings):
    submission = SubmissionFactory(
        team=team_a, submitter=alice, latitude=Decimal("-33.8568"), longitude=Decimal("151.2153")
    )
    settings.MAP_URL = "https://maps.intranet.example/at/{lat},{lon}"
    assert 'href="https://maps.intranet.example/at/-33.8568,151.2153"' in page_of(
        client, alice, submission
    )
    settings.MAP_URL = ""
    html = page_of(client, alice, submission)
    assert "-33.8568, 151.2153" in html
    assert "map-link" not in html


def test_times_are_in_the_persons_zone_with_the_zone_shown(client, alice, team_a):
    created = datetime(2026, 1, 15, 13, 5, tzinfo=UTC)
    submission = SubmissionFactory(team=team_a, submitter=alice, created_at=created)
    assert "2026-01-15 13:05:00 UTC" in page_of(client, alice, submission)
    PersonSettings.objects.create(user=alice, time_zone="Europe/Paris")
    assert "2026-01-15 14:05:00 CET" in page_of(client, alice, submission)


def test_the_list_dates_are_read_in_the_persons_zone(client, alice, team_a):
    PersonSettings.objects.create(user=alice, time_zone="Pacific/Auckland")
    # 2026-01-15 20:00 UTC is already the 16th in Auckland (UTC+13).
    late = SubmissionFactory(
        team=team_a, submitter=alice, created_at=datetime(2026, 1, 15, 20, tzinfo=UTC)
    )
    client.force_login(alice)
    response = client.get(reverse("submission_list"), {"date_from": "2026-01-16"})
    assert [s.pk for s in response.context["page"].object_list] == [late.pk]
    response = client.get(reverse("submission_list"), {"date_to": "2026-01-15"})
    assert list(response.context["page"].object_list) == []


def test_the_csv_is_in_the_persons_zone(client, alice, team_a):
    PersonSettings.objects.create(user=alice, time_zone="Europe/Paris")
    SubmissionFactory(
        team=team_a, submitter=alice, created_at=datetime(2026, 1, 15, 13, 5, tzinfo=UTC)
    )
    client.force_login(alice)
    response = client.get(reverse("submission_export"))
    body = b"".join(response.streaming_content).decode()
    assert "2026-01-15T14:05:00+01:00" in body


def test_the_paused_banner_tells_everyone_and_the_reason_only_to_superusers(
    client, alice, superuser, team_a
):
    from uploads.models import UploadGate

    UploadGate.get()
    UploadGate.objects.update(paused=True, paused_reason="Bad key")
    client.force_login(alice)
    html = client.get(reverse("home")).content.decode()
    assert "Uploads through the account “default” are paused; your place is kept." in html
    assert "Bad key" not in html
    client.force_login(superuser)
    html = client.get(reverse("home")).content.decode()
    assert "Bad key" in html and "Resume sending" in html


def test_the_live_part_answers_alone_and_stops_a_logged_out_page(client, alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice, api_status="UNPARSE")
    url = submission.get_absolute_url() + "?part=body"
    response = client.get(url)
    assert response.status_code == 286 and response.content == b""
    client.force_login(alice)
    body = client.get(url).content.decode()
    assert 'id="submission-body"' in body
    assert "<html" not in body and "UNPARSE" in body and 'hx-trigger="every 3s"' in body
