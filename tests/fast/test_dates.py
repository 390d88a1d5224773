"""One range of dates (uploads/dates.py) at every door a date comes in by: the form, the
API's JSON, a batch's cells, the list's filters and the API's cursors, in the time zones
farthest from UTC. Years 1 and 9999 have no UTC time there: they are refused beside their
field, never a 500, and a batch with such a row is still checked to its end."""

import base64
import json

import pytest
from django.urls import reverse

from tests.conftest import check_to_end, make_batch
from tests.factories import SubmissionFactory, bearer
from uploads.dates import OUT_OF_RANGE
from uploads.models import Batch, BatchRow, PersonSettings, Submission

pytestmark = pytest.mark.django_db

# UTC+14 and UTC−12: the farthest zones either side (Etc/ zones' signs are the other way).
EAST, WEST = "Etc/GMT-14", "Etc/GMT+12"
# A date that exists written down but not in UTC, on each side.
EDGES = [
    (EAST, "0001-01-01T00:00"),
    (EAST, "0001-01-01T00:00:00+14:00"),
    (WEST, "9999-12-31T23:59:59"),
    (WEST, "9999-12-31T23:59:59-12:00"),
    ("UTC", "0001-01-01T00:00:00+14:00"),
    ("UTC", "1899-12-31T23:59:59"),
]


def in_zone(user, zone):
    person = PersonSettings.of(user)
    person.time_zone = zone
    person.save()


@pytest.mark.parametrize(("zone", "taken"), EDGES)
def test_the_form_refuses_a_date_out_of_range_beside_its_field(
    client, alice, team_a, clip_url, zone, taken
):
    in_zone(alice, zone)
    client.force_login(alice)
    data = {"team": team_a.pk, "url": clip_url, "datetime_taken": taken}
    response = client.post(reverse("submission_new"), data)
    assert response.status_code == 200
    assert response.context["form"].errors["datetime_taken"] == [OUT_OF_RANGE]
    assert not Submission.objects.exists()


@pytest.mark.parametrize("zone", [EAST, WEST])
def test_the_first_day_of_the_range_is_taken_in_every_zone(client, alice, team_a, clip_url, zone):
    in_zone(alice, zone)
    client.force_login(alice)
    data = {"team": team_a.pk, "url": clip_url, "datetime_taken": "1900-01-01T00:00"}
    assert client.post(reverse("submission_new"), data).status_code == 302
    assert Submission.objects.get().datetime_taken.year in (1899, 1900)


@pytest.mark.parametrize(("zone", "taken"), EDGES)
def test_the_api_refuses_a_date_out_of_range_naming_the_field(
    client, alice, team_a, clip_url, zone, taken
):
    in_zone(alice, zone)
    body = {"team": team_a.slug, "url": clip_url, "datetime_taken": taken}
    response = client.post(
        "/api/v1/submissions", body, content_type="application/json", **bearer(alice)
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"datetime_taken": [OUT_OF_RANGE]}


@pytest.mark.parametrize(("zone", "taken"), EDGES)
def test_a_batch_row_out_of_range_is_refused_and_the_batch_is_checked_to_its_end(
    client, alice, team_a, clip_url, zone, taken
):
    in_zone(alice, zone)
    csv = f"url,datetime_taken\n{clip_url},{taken}\n{clip_url}?2,2020-05-01 10:00\n"
    batch = make_batch(client, alice, team_a, csv=csv)
    check_to_end(batch)
    assert batch.state == Batch.State.CHECKED
    refused, ready = batch.rows.order_by("line")
    assert refused.state == BatchRow.State.REFUSED
    assert refused.problem == f"Taken at: {OUT_OF_RANGE}"
    assert ready.state == BatchRow.State.READY


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01"])
def test_the_list_filters_refuse_a_day_out_of_range(client, alice, day):
    in_zone(alice, EAST)
    client.force_login(alice)
    page = client.get(reverse("submission_list"), {"date_from": day, "date_to": day})
    assert page.status_code == 200
    assert page.context["form"].errors["date_from"] == [OUT_OF_RANGE]
    answer = client.get("/api/v1/submissions", {"date_to": day}, **bearer(alice))
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"date_to": [OUT_OF_RANGE]}


def cursor(value):
    return base64.urlsafe_b64encode(value.encode()).decode()


@pytest.mark.parametrize(
    "given",
    [
        cursor("[" * 2500),  # nests deeper than the JSON reader goes
        cursor(json.dumps(["0001-01-01T00:00:00+01:00", 5])),  # before year 1 in UTC
        cursor(json.dumps(["9999-12-31T23:59:59-01:00", 5])),  # after year 9999 in UTC
        cursor(json.dumps(["1899-12-31T23:59:59+00:00", 5])),
        cursor(json.dumps(["2025-01-01T00:00:00+00:00", True])),
    ],
)
def test_a_cursor_that_is_not_ours_is_refused_naming_it(client, alice, team_a, given):
    SubmissionFactory(team=team_a, submitter=alice)
    response = client.get("/api/v1/submissions", {"cursor": given}, **bearer(alice))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["cursor"]


def test_the_cursor_of_a_next_link_still_pages(client, alice, team_a):
    for _ in range(3):
        SubmissionFactory(team=team_a, submitter=alice)
    first = client.get("/api/v1/submissions", {"page_size": 2}, **bearer(alice)).json()
    second = client.get(first["next"], **bearer(alice)).json()
    assert len(first["results"]) == 2 and len(second["results"]) == 1
