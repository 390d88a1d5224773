"""CSV export of the list's current selection (`/submissions/export.csv?<the list's query>`)."""

import csv
import io

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from tests.factories import SubmissionFactory
from uploads.models import Status


def export(client, **params):
    response = client.get(reverse("submission_export"), params)
    assert response.status_code == 200, response.status_code
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="submissions-')
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_holds_the_filtered_selection_on_every_page(client, alice, bob, team_a):
    SubmissionFactory.create_batch(30, team=team_a, submitter=alice, status=Status.FAILED)
    SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    SubmissionFactory(team=team_a, submitter=bob, status=Status.FAILED)
    client.force_login(alice)
    rows = export(client, status="failed", page=2)
    assert len(rows) == 30
    assert {row["status"] for row in rows} == {"Failed"}
    assert {row["submitted by"] for row in rows} == {"alice"}


def test_the_columns_and_values(client, alice, team_a):
    submission = SubmissionFactory(
        team=team_a,
        submitter=alice,
        status=Status.PARSED,
        api_status="PARSE",
        video_no="VI42",
        camera_model="GoPro",
        tags=["beach", "sunset"],
    )
    client.force_login(alice)
    [row] = export(client)
    assert row["id"] == str(submission.pk)
    assert row["url"] == submission.url
    assert row["team"] == "Alpha"
    assert row["status"] == "Done" and row["memories.ai status"] == "PARSE"
    assert row["video number"] == "VI42" and row["camera model"] == "GoPro"
    assert row["tags"] == "beach; sunset"
    assert row["link"] == f"http://testserver/submissions/{submission.pk}/"
    assert row["submitted at"].startswith(str(submission.created_at.year))


@pytest.mark.parametrize("dangerous", ['=HYPERLINK("x")', "+1+2", "-2+3", "@SUM(A1)", "\tx"])
def test_cells_that_a_spreadsheet_would_run_as_formulas_are_defused(
    client, alice, team_a, dangerous
):
    SubmissionFactory(team=team_a, submitter=alice, camera_model=dangerous, tags=[dangerous])
    client.force_login(alice)
    [row] = export(client)
    assert row["camera model"] == "'" + dangerous
    assert row["tags"] == "'" + dangerous


def test_another_teams_member_gets_404_for_team_a(client, outsider, alice, team_a):
    SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(outsider)
    assert client.get(reverse("submission_export"), {"team": team_a.slug}).status_code == 404
    assert client.get(reverse("submission_export"), {"submitter": alice.pk}).status_code == 404
    assert export(client, submitter="any") == []


def test_invalid_filters_are_refused_rather_than_ignored(client, alice):
    client.force_login(alice)
    response = client.get(reverse("submission_export"), {"date_from": "yesterday"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "params",
    [{"date_to": "9999-12-31"}, {"date_from": "0001-01-01"}, {"date_from": "3000-01-01"}],
)
def test_dates_out_of_range_are_refused_as_invalid_filters(client, alice, settings, params):
    settings.TIME_ZONE = "Pacific/Kiritimati"
    client.force_login(alice)
    response = client.get(reverse("submission_export"), params)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert text.startswith("The filters are not valid:")
    assert "Choose a date between 1900-01-01 and 2999-12-31." in text
    assert next(iter(params)) in text


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("submission_export"))
    assert response.status_code == 302
