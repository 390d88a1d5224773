"""Submit many: reading a paste or a CSV, the form's own rules for every row, the checks,
queueing on confirmation, cancelling, and the CSV of rows to fix."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.conftest import REPO, check_to_end, make_batch, post_batch, processes_of_make_run
from tests.factories import MembershipFactory, SubmissionFactory
from uploads import periodic, wake
from uploads.batches import reading, service
from uploads.forms import SubmissionForm
from uploads.models import Batch, BatchRow, Event, Status, Submission
from uploads.submitting import ready_to_submit
from uploads.tasks import (
    BATCH_QUEUE,
    cancel_batch,
    check_batch,
    send_next_submission,
    waiting,
)
from uploads.urlcheck import identity

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("commit_callbacks_at_once")]
Row = BatchRow.State


def check(batch):
    """The batch's rows by line once its background check has run to the end, here."""
    return {row.line: row for row in check_to_end(batch).rows.all()}


def field_error(response, field):
    form = response.context["form"]
    problems = response.context["problems"]
    return " ".join(form.errors.get(field, [])) or problems.get(field, "")


# --- reading -----------------------------------------------------------------------


def test_a_paste_becomes_rows_checked_in_the_background_and_nothing_is_queued(
    client, alice, team_a, video_server
):
    urls = f"{video_server.url}/clip.mp4\n\n  {video_server.url}/page.html  \n"
    batch = make_batch(client, alice, team_a, urls=urls)
    assert batch.source == "pasted" and batch.row_count == 2
    assert [(r.line, r.given["url"], r.state) for r in batch.rows.all()] == [
        (1, f"{video_server.url}/clip.mp4", Row.NEW),
        (3, f"{video_server.url}/page.html", Row.NEW),
    ]
    # The check is a task on the batches queue, not run in the request.
    assert waiting(check_batch).filter(queue_name=BATCH_QUEUE).count() == 1
    rows = check(batch)
    assert rows[1].state == Row.READY
    assert rows[1].url_check["content_type"] == "video/mp4"
    assert rows[3].state == Row.REFUSED
    assert "web page" in rows[3].problem
    assert batch.state == Batch.State.CHECKED
    assert not Submission.objects.exists()


def test_a_csv_with_a_bom_and_commas_is_read_with_its_line_numbers():
    text = (
        "\ufeffurl,tags,camera_model\n"
        'https://videos.example.com/a.mp4,"beach, sunset",Canon\n'
        "\n"
        '"https://videos.example.com/b.mp4","a\nb",\n'
        "https://videos.example.com/c.mp4,,\n"
    )
    rows = reading.read_csv(io.BytesIO(text.encode()), max_rows=10)
    assert rows == [
        (2, {"url": "https://videos.example.com/a.mp4", "tags": "beach, sunset",
             "camera_model": "Canon"}),
        (4, {"url": "https://videos.example.com/b.mp4", "tags": "a\nb"}),
        (6, {"url": "https://videos.example.com/c.mp4"}),
    ]  # fmt: skip


def test_a_semicolon_csv_without_a_bom_with_decimal_commas_is_accepted(
    client, alice, team_a, clip_url
):
    csv = f"url;latitude;longitude\n{clip_url};48,8566;2,3522\n"
    rows = check(make_batch(client, alice, team_a, csv=csv))
    assert rows[2].state == Row.READY, rows[2].problem
    assert (rows[2].latitude, rows[2].longitude) == (Decimal("48.8566"), Decimal("2.3522"))


def test_the_form_accepts_a_decimal_comma_too(alice, team_a, clip_url):
    form = SubmissionForm(
        {"team": team_a.pk, "url": clip_url, "latitude": "48,8566", "longitude": "-2,35"},
        user=alice,
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["latitude"] == Decimal("48.8566")
    assert form.cleaned_data["longitude"] == Decimal("-2.35")
    form = SubmissionForm(
        {"team": team_a.pk, "url": clip_url, "latitude": "1,234.5", "longitude": "2"}, user=alice
    )
    assert form.errors["latitude"] == ["Latitude must be a number in decimal degrees."]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The submitted file is empty"),
        (b"\n\nurl\n", "its first line is: it must be the header row"),
        (b"link,tags\nhttps://a.example.com/v.mp4,x\n", "Unknown column: “link”"),
        (b"tags\nbeach\n", "no “url” column"),
        (b"url,url\nhttps://a.example.com/v.mp4,x\n", "names url more than once"),
        (b"url\n", "no rows under it"),
        ("url,camera_model\nhttps://a.example.com/v.mp4,Canon \xe9\n".encode("latin-1"),
         "not UTF-8"),
        ("url\nhttps://a.example.com/v.mp4\n".encode("utf-16"), "not UTF-8"),
        (b"url\nhttps://a.example.com/v\x00.mp4\n", "Line 2 holds a NUL character"),
    ],
)  # fmt: skip
def test_a_file_that_cannot_be_read_is_refused_beside_the_file_field(
    client, alice, team_a, content, message
):
    response = post_batch(client, alice, team_a, csv=content)
    assert response.status_code == 200
    assert message in field_error(response, "file")
    assert not Batch.objects.exists()


def test_paste_or_file_not_both_and_not_neither(client, alice, team_a, clip_url):
    response = post_batch(client, alice, team_a, urls=clip_url, csv=f"url\n{clip_url}\n")
    assert field_error(response, "urls") == "Paste URLs or upload a file, not both."
    response = post_batch(client, alice, team_a)
    assert field_error(response, "urls") == "Paste URLs, one a line, or upload a CSV file."


def test_a_row_with_more_cells_than_the_header_is_refused_with_a_hint(client, alice, team_a):
    rows = check(make_batch(client, alice, team_a, csv="url\nhttps://a.example.com/v.mp4,x\n"))
    assert rows[2].state == Row.REFUSED
    assert "must be in double quotes" in rows[2].problem


# --- limits ------------------------------------------------------------------------


def test_more_rows_than_the_limit_is_a_form_error_saying_the_limit(
    client, alice, team_a, settings, clip_url
):
    settings.BATCH_MAX_ROWS = 3
    response = post_batch(client, alice, team_a, urls="\n".join([clip_url] * 4))
    assert "More than 3 rows: at most 3 can be submitted at once" in field_error(response, "urls")
    csv = "url\n" + "\n".join([clip_url] * 4)
    response = post_batch(client, alice, team_a, csv=csv)
    assert "at most 3 can be submitted at once" in field_error(response, "file")
    assert make_batch(client, alice, team_a, urls="\n".join([clip_url] * 3)).row_count == 3


def test_a_file_over_the_size_limit_is_a_form_error_not_a_bare_400(
    client, alice, team_a, settings, clip_url
):
    settings.BATCH_MAX_FILE_BYTES = 2000
    csv = "url\n" + "\n".join([clip_url] * 100)  # about 4 KB
    response = post_batch(client, alice, team_a, csv=csv)
    assert response.status_code == 413
    assert "larger than 2 KB" in field_error(response, "file")
    assert not Batch.objects.exists()


def test_a_body_far_over_the_limit_is_answered_without_reading_it(
    client, alice, team_a, settings, clip_url
):
    settings.BATCH_MAX_FILE_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    csv = "url\n" + "\n".join([clip_url] * 200)  # about 9 KB
    response = post_batch(client, alice, team_a, csv=csv)
    assert response.status_code == 413
    assert "a file may be at most 1 KB" in field_error(response, "file")


def test_a_paste_over_djangos_request_limit_is_a_form_error_not_a_bare_400(
    client, alice, team_a, settings, clip_url
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    response = post_batch(client, alice, team_a, urls="\n".join([clip_url] * 100))
    assert response.status_code == 413
    assert "The pasted text is larger than 2 KB" in field_error(response, "urls")
    assert "upload the URLs as a CSV file" in response.content.decode()
    assert not Batch.objects.exists()


# --- one validation: the form's rules, from the form's code -------------------------


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"latitude": "91", "longitude": "2"}, "latitude"),
        ({"latitude": "48.1"}, "longitude"),
        ({"latitude": "48.12345678", "longitude": "2"}, "latitude"),
        ({"datetime_taken": "2999-01-01 10:00:00"}, "datetime_taken"),
        ({"datetime_taken": "yesterday"}, "datetime_taken"),
        ({"tags": ",".join(f"t{i}" for i in range(21))}, "tags"),
        ({"tags": "x" * 65}, "tags"),
        ({"camera_model": "x" * 129}, "camera_model"),
        ({"video_transcription_prompt": "x" * 2001}, "video_transcription_prompt"),
        ({"url": "ftp://videos.example.com/a.mp4"}, "url"),
        ({"url": "http://10.0.0.8/a.mp4"}, "url"),
        ({"url": "https://videos.example.com/" + "x" * 2048}, "url"),
        ({"team": "Bravo"}, "team"),
    ],
)
def test_every_row_passes_exactly_the_forms_rules(
    client, alice, team_a, team_b, clip_url, given, field
):
    row = {"url": clip_url, **given}
    csv = ",".join(row) + "\n" + ",".join(f'"{value}"' for value in row.values()) + "\n"
    rows = check(make_batch(client, alice, team_a, csv=csv))
    assert rows[2].state == Row.REFUSED
    form = SubmissionForm({"team": team_a.pk, **row}, user=alice)
    assert not form.is_valid()
    label = form[field].label
    for message in form.errors[field]:
        assert f"{label}: {message}" in rows[2].problem


def test_a_yes_or_no_cell_for_keeping_the_original(client, alice, team_a, clip_url):
    csv = f"url,retain_original_video\n{clip_url},yes\n{clip_url}?2,No\n{clip_url}?3,maybe\n"
    rows = check(make_batch(client, alice, team_a, csv=csv))
    assert rows[2].retain_original_video is True
    assert rows[3].retain_original_video is False and rows[3].state == Row.READY
    assert rows[4].state == Row.REFUSED
    assert "write yes or no (not “maybe”)" in rows[4].problem


def test_shared_values_apply_to_rows_without_their_own(client, alice, team_a, team_b, clip_url):
    MembershipFactory(team=team_b, user=alice)
    csv = (
        "url,team,tags,camera_model,retain_original_video\n"
        f"{clip_url}?1,,,,\n"
        f"{clip_url}?2,bravo-scope,own,Own cam,no\n"
        f"{clip_url}?3,Bravo,,,\n"
    )
    batch = make_batch(
        client, alice, team_a, csv=csv, tags="shared, more", camera_model="Shared cam",
        video_transcription_prompt="Speak slowly", retain_original_video="on",
    )  # fmt: skip
    rows = check(batch)
    assert rows[2].team == team_a and rows[2].tags == ["shared", "more"]
    assert rows[2].camera_model == "Shared cam" and rows[2].retain_original_video is True
    assert rows[2].video_transcription_prompt == "Speak slowly"
    assert rows[3].team == team_b and rows[3].tags == ["own"]
    assert rows[3].camera_model == "Own cam" and rows[3].retain_original_video is False
    assert rows[3].video_transcription_prompt == "Speak slowly"
    assert rows[4].team == team_b and rows[4].tags == ["shared", "more"]


def test_shared_values_are_checked_by_the_forms_rules_beside_their_fields(
    client, alice, team_a, team_b, clip_url
):
    response = post_batch(client, alice, team_a, urls=clip_url, camera_model="x" * 129)
    assert field_error(response, "camera_model") == "At most 128 characters."
    response = post_batch(client, alice, team_b, urls=clip_url)
    assert field_error(response, "team") == "Choose one of your own teams."
    assert not Batch.objects.exists()


# --- the links, in the background -------------------------------------------------------


@pytest.fixture
def slow_video_server(video_server):
    video_server.delay, video_server.most_in_flight = 0.2, 0
    yield video_server
    video_server.delay = 0.0


def test_links_are_checked_at_most_the_concurrency_setting_at_once(
    client, alice, team_a, settings, slow_video_server
):
    settings.BATCH_CHECK_CONCURRENCY = 3
    urls = "\n".join(f"{slow_video_server.url}/clip.mp4?{n}" for n in range(12))
    rows = check(make_batch(client, alice, team_a, urls=urls))
    assert {row.state for row in rows.values()} == {Row.READY}
    assert slow_video_server.most_in_flight == 3


def test_a_link_that_cannot_be_reached_can_be_confirmed_for_the_batch(
    client, alice, team_a, video_server, clip_url
):
    urls = f"{clip_url}\n{video_server.url}/missing.mp4\n{video_server.url}/page.html"
    batch = make_batch(client, alice, team_a, urls=urls)
    rows = check(batch)
    assert rows[2].state == Row.UNREACHABLE and "404" in rows[2].problem
    assert service.confirm(batch, alice, confirm_public=True)["queued"] == 2
    missing = Submission.objects.get(url__endswith="/missing.mp4")
    assert missing.confirm_public is True and missing.batch_row.confirm_public is True
    assert missing.url_check["reachable"] is False and "404" in missing.url_check["problem"]
    assert not Submission.objects.filter(url__endswith="/page.html").exists()  # a refusal


def test_checks_run_in_steps_and_batches_take_turns(client, alice, team_a, settings, clip_url):
    settings.BATCH_CHECK_STEP_SECONDS = 0  # one link a step
    first = make_batch(
        client, alice, team_a, urls="\n".join([f"{clip_url}?a{n}" for n in range(3)])
    )
    second = make_batch(client, alice, team_a, urls=f"{clip_url}?b1\n{clip_url}?b2")
    order = []
    while task := waiting(check_batch).order_by("enqueued_at", "id").first():
        task.delete()
        order.append(task.args_kwargs["kwargs"]["batch_id"])
        check_batch.call(**task.args_kwargs["kwargs"])
    assert order == [first.pk, second.pk, first.pk, second.pk, first.pk]
    assert not BatchRow.objects.exclude(state=Row.READY).exists()


def test_a_stalled_check_is_started_again_by_the_periodic_process(client, alice, team_a, clip_url):
    batch = make_batch(client, alice, team_a, urls=clip_url)
    waiting(check_batch).delete()  # its worker died with it
    periodic.run_once()
    assert not waiting(check_batch).exists()  # not stalled yet
    Batch.objects.filter(pk=batch.pk).update(progress_at=timezone.now() - timedelta(hours=1))
    periodic.run_once()
    periodic.run_once()
    assert waiting(check_batch).count() == 1


# --- duplicates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://Videos.Example.com/a.mp4", "HTTPS://videos.example.COM/a.mp4", True),
        ("https://videos.example.com:443/a.mp4", "https://videos.example.com/a.mp4", True),
        ("http://videos.example.com:80/a.mp4", "http://videos.example.com/a.mp4", True),
        ("https://videos.example.com/a.mp4#t=10", "https://videos.example.com/a.mp4", True),
        ("https://videos.example.com", "https://videos.example.com/", True),
        ("https://videos.example.com:8443/a", "https://videos.example.com/a", False),
        ("http://videos.example.com/a.mp4", "https://videos.example.com/a.mp4", False),
        ("https://videos.example.com/A.mp4", "https://videos.example.com/a.mp4", False),
        ("https://videos.example.com/a.mp4?v=1", "https://videos.example.com/a.mp4?v=2", False),
        ("https://v.example.com/a?x=1&y=2", "https://v.example.com/a?y=2&x=1", False),
    ],
)
def test_urls_are_compared_after_normalising_scheme_host_port_and_fragment(a, b, same):
    assert (identity.url_key(a) == identity.url_key(b)) is same


def test_the_form_warns_of_a_url_the_team_already_has_and_sends_it_again_if_asked(
    client, alice, team_a, team_b, outsider, clip_url
):
    earlier = SubmissionFactory(team=team_a, submitter=alice, url=clip_url)
    variant = clip_url.replace("http://", "HTTP://") + "#t=3"
    form = SubmissionForm({"team": team_a.pk, "url": variant}, user=alice)
    assert not ready_to_submit(form) and form.offer_send_again
    assert "already submitted to Alpha" in form.errors["url"][0]
    assert f"#{earlier.pk}, Waiting" in form.errors["url"][0]
    form = SubmissionForm({"team": team_a.pk, "url": variant, "send_again": "on"}, user=alice)
    assert ready_to_submit(form), form.errors
    # Another team's submission of it is no duplicate, nor a failed or cancelled one.
    assert ready_to_submit(SubmissionForm({"team": team_b.pk, "url": clip_url}, user=outsider))
    for status in (Status.FAILED, Status.PARSE_ERROR, Status.CANCELLED):
        Submission.objects.filter(pk=earlier.pk).update(status=status)
        assert ready_to_submit(SubmissionForm({"team": team_a.pk, "url": clip_url}, user=alice))


def test_the_form_page_offers_the_send_again_checkbox(client, alice, team_a, clip_url):
    SubmissionFactory(team=team_a, submitter=alice, url=clip_url)
    client.force_login(alice)
    response = client.post(reverse("submission_new"), {"team": team_a.pk, "url": clip_url})
    assert "Send it again" in response.content.decode()
    response = client.post(
        reverse("submission_new"), {"team": team_a.pk, "url": clip_url, "send_again": "on"}
    )
    assert response.status_code == 302
    assert Submission.objects.filter(url=clip_url).count() == 2


def test_a_batch_flags_urls_the_team_has_and_skips_them_unless_sent_again(
    client, alice, team_a, clip_url
):
    earlier = SubmissionFactory(team=team_a, submitter=alice, url=clip_url, status=Status.PARSED)
    batch = make_batch(client, alice, team_a, urls=f"{clip_url}\n{clip_url}?new")
    rows = check(batch)
    assert rows[1].state == Row.READY and rows[1].earlier == earlier
    assert rows[2].earlier is None
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "Queue 1 row; 0 refused" in page
    assert "Send the 1 URL the team already has again" in page
    assert service.confirm(batch, alice) == {
        "queued": 1, "held": 0, "duplicates": 1, "not_in_team": 0,
    }  # fmt: skip
    assert Submission.objects.filter(url=clip_url).count() == 1

    again = make_batch(client, alice, team_a, urls=clip_url)
    check(again)
    assert service.confirm(again, alice, send_again=True)["queued"] == 1
    assert Submission.objects.filter(url=clip_url).count() == 2


def test_a_url_queued_elsewhere_after_the_check_is_skipped_at_confirmation(
    client, alice, team_a, clip_url
):
    batch = make_batch(client, alice, team_a, urls=clip_url)
    check(batch)
    meanwhile = SubmissionFactory(team=team_a, submitter=alice, url=clip_url)
    assert service.confirm(batch, alice)["duplicates"] == 1
    assert batch.rows.get().earlier == meanwhile


def test_duplicates_inside_a_batch_are_collapsed_per_team(client, alice, team_a, team_b, clip_url):
    MembershipFactory(team=team_b, user=alice)
    variant = clip_url.replace("http://", "HTTP://") + "#again"
    csv = f"url,team\n{clip_url},\n{clip_url}?other,\n{variant},\n{clip_url},Bravo\n"
    rows = check(make_batch(client, alice, team_a, csv=csv))
    assert [rows[n].state for n in (2, 3, 4, 5)] == [Row.READY, Row.READY, Row.REPEATED, Row.READY]
    assert rows[4].problem == "The same URL as line 2: left out."
    batch = rows[2].batch
    assert service.confirm(batch, alice)["queued"] == 3


# --- queueing ----------------------------------------------------------------------------


def test_nothing_is_queued_until_the_person_confirms(client, alice, team_a, clip_url, video_server):
    batch = make_batch(client, alice, team_a, urls=f"{clip_url}\n{video_server.url}/page.html")
    client.force_login(alice)
    response = client.post(reverse("batch_confirm", args=[batch.pk]))
    assert "still being checked" in str(list(response.wsgi_request._messages))
    check(batch)
    assert not Submission.objects.exists()
    response = client.post(reverse("batch_confirm", args=[batch.pk]), follow=True)
    assert "Queued 1 submission." in response.content.decode()
    submission = Submission.objects.get()
    assert (submission.batch, submission.batch_row.line) == (batch, 1)
    assert (submission.team, submission.submitter, submission.status) == (
        team_a, alice, Status.QUEUED,
    )  # fmt: skip
    assert submission.url_key == identity.url_key(clip_url)
    event = submission.events.get()
    assert (event.kind, event.actor) == (Event.Kind.CREATED, alice)
    assert event.message == f"Submitted in batch #{batch.pk}, line 1."
    assert waiting(send_next_submission).exists()  # the sender is woken
    batch.refresh_from_db()
    assert (batch.state, batch.queued_count) == (Batch.State.QUEUED, 1)


def test_a_batch_is_queued_once_however_often_it_is_confirmed(client, alice, team_a, clip_url):
    batch = make_batch(client, alice, team_a, urls=f"{clip_url}\n{clip_url}?2")
    check(batch)
    assert service.confirm(batch, alice)["queued"] == 2
    with pytest.raises(service.NotConfirmable):
        service.confirm(batch, alice)
    assert Submission.objects.count() == 2


def test_only_the_person_who_made_a_batch_queues_it(client, alice, team_a, superuser, clip_url):
    batch = make_batch(client, alice, team_a, urls=clip_url)
    check(batch)
    client.force_login(superuser)
    assert client.get(batch.get_absolute_url()).status_code == 200
    client.post(reverse("batch_confirm", args=[batch.pk]))
    assert not Submission.objects.exists()


def test_a_row_of_a_team_left_since_is_not_queued(client, alice, team_a, clip_url):
    batch = make_batch(client, alice, team_a, urls=clip_url)
    check(batch)
    alice.memberships.all().delete()
    assert service.confirm(batch, alice) == {
        "queued": 0, "held": 0, "duplicates": 0, "not_in_team": 1,
    }  # fmt: skip


def test_the_waiting_submissions_of_a_batch_are_cancelled_together(client, alice, team_a, clip_url):
    urls = "\n".join(f"{clip_url}?{n}" for n in range(4))
    batch = make_batch(client, alice, team_a, urls=urls)
    check(batch)
    service.confirm(batch, alice)
    sending = batch.submissions.order_by("pk").first()
    Submission.objects.filter(pk=sending.pk).update(status=Status.SENDING)
    client.force_login(alice)
    client.post(reverse("batch_cancel", args=[batch.pk]), {"confirmed": "yes"})
    task = waiting(cancel_batch).get()
    assert task.queue_name == BATCH_QUEUE
    assert cancel_batch.call(**task.args_kwargs["kwargs"]) == 3
    statuses = list(batch.submissions.order_by("pk").values_list("status", flat=True))
    assert statuses == [Status.SENDING] + [Status.CANCELLED] * 3
    event = batch.submissions.filter(status=Status.CANCELLED).first().events.last()
    assert (event.kind, event.actor, event.from_status) == (
        Event.Kind.CANCELLED, alice, Status.QUEUED,
    )  # fmt: skip
    assert f"batch #{batch.pk}" in event.message


# --- the CSV files -------------------------------------------------------------------------


def test_the_rows_to_fix_download_as_a_csv_that_can_be_uploaded_again(
    client, alice, team_a, video_server, clip_url
):
    csv = (
        "url,latitude,longitude,tags\n"
        f"{clip_url},48.1,2.3,ok\n"
        f"{clip_url}?2,91,2.3,-minus\n"
        f"{video_server.url}/missing.mp4,,,=SUM(A1)\n"
    )
    batch = make_batch(client, alice, team_a, csv=csv, tags="shared")
    check(batch)
    client.force_login(alice)
    response = client.get(reverse("batch_rows_to_fix", args=[batch.pk]))
    assert response["Content-Disposition"] == (
        f'attachment; filename="batch-{batch.pk}-rows-to-fix.csv"'
    )
    content = b"".join(response.streaming_content)
    assert content.startswith("\ufeffurl,team,".encode())
    assert b"'=SUM(A1)" in content and b",91," in content  # a formula is defused, a number not
    rows = reading.read_csv(io.BytesIO(content), max_rows=10)
    assert [row["url"] for _, row in rows] == [f"{clip_url}?2", f"{video_server.url}/missing.mp4"]
    assert rows[0][1]["latitude"] == "91" and rows[1][1]["tags"] == "=SUM(A1)"
    assert rows[0][1]["team"] == team_a.slug  # the shared values came along
    again = make_batch(client, alice, team_a, csv=content, name="fixed.csv")
    assert again.row_count == 2


def test_the_template_is_read_back_as_rows_the_form_accepts(client, alice, team_a):
    client.force_login(alice)
    response = client.get(reverse("batch_template"))
    content = b"".join(response.streaming_content)
    assert content.decode().splitlines()[0] == "\ufeff" + ",".join(reading.COLUMNS)
    [(line, row)] = reading.read_csv(io.BytesIO(content), max_rows=10)
    assert row["team"] == team_a.slug
    form = SubmissionForm({**row, "team": team_a.pk}, user=alice)
    form.data.pop("retain_original_video")  # "no": the checkbox left alone
    assert form.is_valid(), form.errors


# --- the page -----------------------------------------------------------------------------


def test_the_page_shows_progress_and_each_rows_reason_beside_it(
    client, alice, team_a, video_server, clip_url
):
    batch = make_batch(client, alice, team_a, urls=f"{clip_url}\n{video_server.url}/page.html")
    client.force_login(alice)
    page = client.get(batch.get_absolute_url()).content.decode()
    assert 'aria-valuenow="0"' in page and 'aria-valuemax="2"' in page
    assert f'hx-get="/batches/{batch.pk}/progress/?state=checking"' in page
    check(batch)
    refresh = client.get(reverse("batch_progress", args=[batch.pk]) + "?state=checking")
    assert refresh["HX-Refresh"] == "true"
    page = client.get(batch.get_absolute_url()).content.decode()
    assert 'aria-valuenow="2"' in page and "hx-trigger" not in page
    assert "looks like a web page" in page
    refused = client.get(batch.get_absolute_url() + "?show=refused").content.decode()
    assert "page.html" in refused and "clip.mp4" not in refused
    assert "Download the rows to fix" in page


def test_a_queued_batch_polls_until_every_submission_is_final(client, alice, team_a, clip_url):
    batch = make_batch(client, alice, team_a, urls=clip_url)
    check(batch)
    service.confirm(batch, alice)
    client.force_login(alice)
    fragment = client.get(reverse("batch_progress", args=[batch.pk]) + "?state=queued")
    assert 'hx-trigger="every 2s"' in fragment.content.decode()
    assert "Cancel the 1 waiting" in fragment.content.decode()
    batch.submissions.update(status=Status.PARSED)
    fragment = client.get(reverse("batch_progress", args=[batch.pk]) + "?state=queued")
    assert "hx-trigger" not in fragment.content.decode()
    assert 'aria-valuenow="1"' in fragment.content.decode()


def test_a_malformed_page_or_filter_is_no_error(client, alice, team_a, clip_url):
    batch = make_batch(client, alice, team_a, urls=clip_url)
    client.force_login(alice)
    for query in ("?show=nonsense", "?page=abc", "?page=99999999999999999999"):
        assert client.get(batch.get_absolute_url() + query).status_code == 200


# --- the admin, and the processes ---------------------------------------------------------


def test_batches_are_in_the_admin_read_only_with_their_rows(
    client, superuser, alice, team_a, video_server, clip_url
):
    batch = make_batch(client, alice, team_a, urls=f"{clip_url}\n{video_server.url}/page.html")
    check(batch)
    client.force_login(superuser)
    assert "pasted" in client.get(reverse("admin:uploads_batch_changelist")).content.decode()
    page = client.get(reverse("admin:uploads_batch_change", args=[batch.pk])).content.decode()
    assert "page.html" in page and "looks like a web page" in page  # the refused row
    assert 'name="_save"' not in page
    rows_url = reverse("admin:uploads_batchrow_changelist") + f"?batch__id__exact={batch.pk}"
    assert rows_url.replace("&", "&amp;") in page or rows_url in page
    rows = client.get(rows_url).content.decode()
    assert "clip.mp4" in rows and "page.html" in rows
    assert client.get(reverse("admin:uploads_batch_add")).status_code == 403
    assert client.get(reverse("admin:uploads_batch_delete", args=[batch.pk])).status_code == 403
    row = batch.rows.first()
    assert (
        client.post(reverse("admin:uploads_batchrow_change", args=[row.pk]), {}).status_code == 403
    )


def test_the_batches_worker_is_in_the_procfile_and_in_make_run(monkeypatch):
    procfile = (REPO / "Procfile").read_text().splitlines()
    [line] = [line for line in procfile if line.startswith("batches: ")]
    assert line.endswith(" python manage.py db_worker --no-reload --queue-name batches")
    started = processes_of_make_run(monkeypatch)
    assert started["batches"][-4:] == ["db_worker", "--no-reload", "--queue-name", "batches"]
    assert "--queue-name" not in started["worker"]  # the sender's worker takes "default" only


def seed_batch(user, team, n):
    """A queued batch of n rows: every third queued (with its submission), every third
    refused, every third left out as a duplicate of an earlier submission."""
    earlier = SubmissionFactory(team=team, submitter=user)
    batch = Batch.objects.create(created_by=user, source="pasted", row_count=n,
                                 state=Batch.State.QUEUED)  # fmt: skip
    for line in range(1, n + 1):
        url = f"https://videos.example.com/{line}.mp4"
        kind = line % 3
        row = batch.rows.create(
            line=line, given={"url": url}, team=team, url=url,
            state=[Row.QUEUED, Row.REFUSED, Row.READY][kind],
            problem="A web page." if kind == 1 else "",
            earlier=earlier if kind == 2 else None,
        )  # fmt: skip
        if kind == 0:
            SubmissionFactory(team=team, submitter=user, url=url, batch=batch, batch_row=row)
    return batch


@pytest.mark.parametrize("view", ["batch_detail", "batch_progress"])
def test_the_batch_pages_cost_the_same_queries_for_5_and_50_rows(client, alice, team_a, view):
    client.force_login(alice)
    counts = []
    for n in (5, 50):
        batch = seed_batch(alice, team_a, n)
        url = reverse(view, args=[batch.pk])
        client.get(url)  # the session's first queries are not the page's
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_over_a_thousand_fields_is_a_413_with_the_form_not_a_bare_400(
    client, alice, team_a, clip_url
):
    client.force_login(alice)
    data = {"urls": clip_url, "team": team_a.pk, **{f"extra{n}": "x" for n in range(1001)}}
    response = client.post(reverse("batch_new"), data)
    assert response.status_code == 413
    assert "more than 1,000 fields" in field_error(response, "urls")
    assert 'name="urls"' in response.content.decode()  # the form, to try again
    assert not Batch.objects.exists()


def test_over_a_hundred_files_is_a_413_with_the_form_not_a_bare_400(
    client, alice, team_a, clip_url
):
    client.force_login(alice)
    files = [SimpleUploadedFile(f"v{n}.csv", b"url\n", content_type="text/csv") for n in range(101)]
    response = client.post(reverse("batch_new"), {"team": team_a.pk, "file": files})
    assert response.status_code == 413
    assert "More than 100 files were sent" in field_error(response, "file")
    assert 'name="file"' in response.content.decode()
    assert not Batch.objects.exists()


def test_a_row_the_rules_fail_on_is_refused_and_the_batch_still_checked(
    client, alice, team_a, clip_url
):
    batch = make_batch(client, alice, team_a, urls=f"{clip_url}\n{clip_url}?2")
    first = batch.rows.order_by("line").first()
    BatchRow.objects.filter(pk=first.pk).update(given={"url": clip_url, "team": 5})  # no text
    check_batch.call(batch_id=batch.pk)
    batch.refresh_from_db()
    assert batch.state == Batch.State.CHECKED
    refused, ready = batch.rows.order_by("line")
    assert refused.state == BatchRow.State.REFUSED and "could not be checked" in refused.problem
    assert ready.state == BatchRow.State.READY


def test_a_batchs_check_and_its_cancel_are_each_waiting_once_however_often_asked():
    for _ in range(3):
        wake.start_batch_check(41)
        wake.start_batch_cancel(41)
    wake.start_batch_check(42)
    assert sorted(run.args_kwargs["kwargs"]["batch_id"] for run in waiting(check_batch)) == [
        41,
        42,
    ]
    assert [run.args_kwargs["kwargs"]["batch_id"] for run in waiting(cancel_batch)] == [41]
