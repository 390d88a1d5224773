"""Fuzzing every door a person or a script sends values through (tests/strategies.py):
the submission form, the API's JSON, a batch's CSV rows (through the page and the API, then
the background check) and the list's filters, in the time zones farthest from UTC.

The property, at every door: never a 5xx; a refusal names the field (a form error beside
it, or problem+json `errors` by field); and a batch is always checked to its end, never
left "checking".

Bounded for CI (FUZZ_EXAMPLES, 60 by default); benchmarks/bench_fuzz.py runs it longer.
"""

import csv
import io
import json

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests import strategies as fuzz
from tests.conftest import check_to_end
from tests.factories import SubmissionFactory, bearer
from uploads.api.views import BATCH_FIELDS, SUBMISSION_FIELDS
from uploads.filters import SubmissionFilterForm
from uploads.forms import SubmissionForm
from uploads.models import Batch, PersonSettings, Submission

pytestmark = pytest.mark.django_db

FUZZ = hypothesis_settings(
    max_examples=fuzz.EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much],
)  # fmt: skip
GENERAL = "__all__"
FILTER_FIELDS = set(SubmissionFilterForm.base_fields) | {"cursor", "page_size"}


@pytest.fixture(autouse=True)
def quick_checks(settings):
    settings.URL_PROBE_DEADLINE = 0.5  # the local server answers at once, or never
    settings.API_REQUESTS_PER_MINUTE = 10**6


def in_zone(user, zone):
    person = PersonSettings.of(user)
    person.time_zone = zone
    person.save()


def other_teams(team_a, team_b):
    """What a team may be given as, besides one's own: another's, its name, nonsense."""
    return [str(team_b.pk), team_b.slug, team_a.name, "", "0", "-1", "１", "9" * 30, "x" * 500]


@FUZZ
@given(data=st.data(), zone=st.sampled_from(fuzz.ZONES))
def test_the_form_never_fails_and_names_what_it_refuses(
    client, alice, team_a, team_b, video_server, data, zone
):
    fields = data.draw(fuzz.form_fields(video_server, str(team_a.pk), other_teams(team_a, team_b)))
    in_zone(alice, zone)
    client.force_login(alice)
    count = Submission.objects.count()

    response = client.post(reverse("submission_new"), fields)

    assert response.status_code < 500
    event(f"answered {response.status_code}")
    if response.status_code == 302:
        assert Submission.objects.count() == count + 1
        return
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors, "refused without saying why"
    assert set(errors) <= set(SubmissionForm.base_fields) | {GENERAL}
    assert Submission.objects.count() == count


@FUZZ
@given(data=st.data(), zone=st.sampled_from(fuzz.ZONES))
def test_the_api_never_fails_and_names_the_field_it_refuses(
    client, alice, team_a, team_b, video_server, data, zone
):
    body = data.draw(fuzz.api_bodies(video_server, team_a.slug, other_teams(team_a, team_b)))
    in_zone(alice, zone)
    count = Submission.objects.count()

    response = client.post(
        "/api/v1/submissions", body, content_type="application/json", **bearer(alice)
    )

    assert response.status_code < 500
    event(f"answered {response.status_code}")
    if response.status_code == 201:
        assert Submission.objects.count() == count + 1
        return
    assert response.status_code in (400, 403, 413)
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["detail"]
    assert set(problem.get("errors", {})) <= SUBMISSION_FIELDS | given_names(body) | {GENERAL}
    assert Submission.objects.count() == count


def given_names(body):
    """The names a JSON body gave (an unknown one is refused by its name)."""
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return set()
    return set(value) if isinstance(value, dict) else set()


def csv_text(columns, rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


@FUZZ
@given(data=st.data(), zone=st.sampled_from(fuzz.ZONES), door=st.sampled_from(["page", "api"]))
def test_a_batch_of_any_rows_is_checked_to_its_end_and_says_why_each_row_is_refused(
    client, alice, team_a, video_server, data, zone, door
):
    columns, rows = data.draw(fuzz.csv_files(video_server))
    text = csv_text(columns, rows)
    in_zone(alice, zone)
    before = Batch.objects.count()
    if door == "page":
        client.force_login(alice)
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile("rows.csv", text.encode(), content_type="text/csv")
        response = client.post(reverse("batch_new"), {"team": team_a.pk, "file": upload})
        made = response.status_code == 302
        if not made:
            assert response.status_code in (200, 413)
            assert response.context["form"].errors or response.context["problems"]
    else:
        response = client.generic(
            "POST", f"/api/v1/batches?team={team_a.slug}", text.encode(),
            content_type="text/csv", **bearer(alice),
        )  # fmt: skip
        made = response.status_code == 202
        if not made:
            assert response.status_code in (400, 413)
            assert set(response.json().get("errors", {})) <= BATCH_FIELDS | {"file", GENERAL}
    assert response.status_code < 500
    event(f"{door}: {'made' if made else 'refused'}")
    if not made:
        assert Batch.objects.count() == before
        return
    batch = check_to_end(Batch.objects.latest("pk"))
    for row in batch.rows.filter(state__in=["refused", "unreachable"]):
        assert row.problem.strip(), f"line {row.line} refused without saying why"


@FUZZ
@given(query=fuzz.filter_queries(), zone=st.sampled_from(fuzz.ZONES))
def test_the_list_and_its_api_never_fail_on_any_filter(client, alice, team_a, query, zone):
    SubmissionFactory(team=team_a, submitter=alice)
    in_zone(alice, zone)
    client.force_login(alice)

    page = client.get(reverse("submission_list"), query)
    answer = client.get("/api/v1/submissions", query, **bearer(alice))

    assert page.status_code < 500 and answer.status_code < 500
    event(f"page {page.status_code}, api {answer.status_code}")
    if answer.status_code == 400:
        errors = answer.json()["errors"]
        assert errors and set(errors) <= FILTER_FIELDS | {GENERAL}
