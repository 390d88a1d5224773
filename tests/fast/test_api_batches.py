"""Batches through the API: rows as JSON or a CSV body, checked as the page's are, their
counts and per-row results, confirming, and "confirm": true."""

import json

import pytest

from tests.conftest import check_to_end, make_batch
from uploads.models import Batch, BatchRow, Status, Submission

pytestmark = pytest.mark.django_db

BATCHES = "/api/v1/batches"
Row = BatchRow.State


def post_json(client, headers, body, path=BATCHES):
    return client.post(path, body, content_type="application/json", **headers)


def test_rows_are_checked_and_judged_as_the_pages_are(
    client, alice, as_alice, team_a, video_server
):
    urls = [video_server.url + path for path in ("/clip.mp4", "/page.html", "/missing.mp4")]
    urls += ["ftp://example.com/x.mp4", video_server.url + "/clip.mp4"]
    response = post_json(
        client, as_alice, {"team": team_a.slug, "rows": [{"url": u} for u in urls]}
    )
    assert response.status_code == 202, response.content
    made = response.json()
    assert made["state"] == "checking" and made["row_count"] == 5
    api_batch = check_to_end(made["id"])
    page_batch = check_to_end(make_batch(client, alice, team_a, urls="\n".join(urls)).pk)
    detail = client.get(f"{BATCHES}/{api_batch.pk}", **as_alice).json()
    assert detail["state"] == "checked"
    assert detail["counts"]["ready"] == 1 and detail["counts"]["refused"] == 2
    assert [(r["line"], r["state"], r["problem"]) for r in detail["rows"]] == list(
        page_batch.rows.order_by("line").values_list("line", "state", "problem")
    )


def test_a_csv_body_is_read_as_the_pages_upload(client, as_alice, team_a, clip_url):
    csv = f"url;tags;retain_original_video\n{clip_url};beach;yes\n{clip_url}?2;;maybe\n"
    response = client.post(
        f"{BATCHES}?team={team_a.slug}", csv, content_type="text/csv", **as_alice
    )
    assert response.status_code == 202, response.content
    rows = {row.line: row for row in check_to_end(response.json()["id"]).rows.all()}
    assert rows[2].state == Row.READY and rows[2].tags == ["beach"]
    assert rows[2].retain_original_video
    assert rows[3].state == Row.REFUSED and "yes or no" in rows[3].problem


def test_a_csv_with_an_unknown_column_is_refused_with_the_pages_message(client, as_alice, team_a):
    response = client.post(
        f"{BATCHES}?team={team_a.slug}", "url,colour\nx,y\n", content_type="text/csv", **as_alice
    )
    assert response.status_code == 400
    assert "Unknown column" in response.json()["errors"]["file"][0]


def test_rows_of_the_wrong_shape_are_refused(client, as_alice, team_a):
    for rows in ([], [{"colour": "x"}], "x", [1]):
        response = post_json(client, as_alice, {"team": team_a.slug, "rows": rows})
        assert response.status_code == 400, rows
        assert "rows" in response.json()["errors"], response.json()


def test_confirm_queues_the_ready_rows_once(client, as_alice, team_a, clip_url):
    rows = [{"url": clip_url}, {"url": clip_url + "?2", "tags": "a,b"}]
    made = post_json(client, as_alice, {"team": team_a.slug, "rows": rows}).json()
    early = post_json(client, as_alice, {}, f"{BATCHES}/{made['id']}/confirm")
    assert early.status_code == 409
    check_to_end(made["id"])
    response = post_json(client, as_alice, {}, f"{BATCHES}/{made['id']}/confirm")
    assert response.json() == {"queued": 2, "held": 0, "duplicates": 0, "not_in_team": 0}
    assert post_json(client, as_alice, {}, f"{BATCHES}/{made['id']}/confirm").status_code == 409
    detail = client.get(f"{BATCHES}/{made['id']}", **as_alice).json()
    assert detail["submission_counts"]["queued"] == 2
    assert all(row["submission"] for row in detail["rows"])


def test_confirm_true_queues_the_ready_rows_as_soon_as_they_are_checked(
    client, as_alice, team_a, clip_url
):
    rows = [{"url": clip_url}, {"url": "ftp://example.com/x.mp4"}]
    made = post_json(client, as_alice, {"team": team_a.slug, "rows": rows, "confirm": True}).json()
    assert not Submission.objects.exists()
    assert check_to_end(made["id"]).state == Batch.State.QUEUED
    assert list(Submission.objects.values_list("url", "status")) == [(clip_url, Status.QUEUED)]


def test_a_10000_row_batch_fits_though_it_is_over_the_pages_limit(
    client, as_alice, team_a, settings
):
    rows = [{"url": f"https://videos.example.com/{'archive/' * 30}{n}.mp4"} for n in range(10_000)]
    body = {"team": team_a.slug, "rows": rows}
    assert len(json.dumps(body)) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = post_json(client, as_alice, body)
    assert response.status_code == 202, response.content[:500]
    assert response.json()["row_count"] == 10_000
    assert len(response.json()["rows"]) == 1000 and response.json()["rows_next"]
    after = client.get(response.json()["rows_next"], **as_alice).json()
    assert after["rows"][0]["line"] == 1001


def test_over_api_max_body_bytes_is_413(client, as_alice, team_a, settings):
    settings.API_MAX_BODY_BYTES = 1000
    body = {"team": team_a.slug, "rows": [{"url": "https://e.com/" + "a" * 2000}]}
    response = post_json(client, as_alice, body)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert "1,000" in response.json()["detail"]
    assert not Batch.objects.exists()
