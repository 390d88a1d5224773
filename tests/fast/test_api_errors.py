"""Every API error is application/problem+json (RFC 9457) with a reason; never a 500."""

import pytest

pytestmark = pytest.mark.django_db

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_problem(response, status):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status
    assert body["detail"] and body["title"]
    return body


def test_an_unknown_endpoint_is_a_problem_not_a_page(client, as_alice):
    assert_problem(client.get("/api/v1/videos", **as_alice), 404)
    assert_problem(client.post("/api/v1/submissions/1/cancel/x", **as_alice), 404)


def test_a_wrong_method_is_405_with_allow(client, as_alice):
    response = client.delete("/api/v1/submissions", **as_alice)
    assert_problem(response, 405)
    assert "POST" in response["Allow"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        ("{", "application/json", 400, "not valid JSON"),
        ('{"url": NaN}', "application/json", 400, "NaN"),
        ("[" * 100_000, "application/json", 400, "nests too deeply"),
        (b"\xff\xfe", "application/json", 400, "not UTF-8"),
        ('{"team": "a", "url": "\\ud800"}', "application/json", 400, "lone UTF-16 surrogate"),
        ("url=x", "application/x-www-form-urlencoded", 415, "Unsupported media type"),
        ("url\nx", "text/csv", 415, "Unsupported media type"),
    ],
)
def test_a_body_that_cannot_be_read_says_why(client, as_alice, body, content_type, status, reason):
    response = client.post("/api/v1/submissions", body, content_type=content_type, **as_alice)
    assert reason in assert_problem(response, status)["detail"]


def test_field_errors_are_listed_by_field(client, as_alice, team_a):
    response = client.post(
        "/api/v1/submissions", {"team": team_a.slug}, content_type="application/json", **as_alice
    )
    assert assert_problem(response, 400)["errors"] == {"url": ["Enter the video's URL."]}


def test_a_declared_length_over_the_limit_is_413_before_reading(client, as_alice, settings):
    settings.API_MAX_BODY_BYTES = 10
    response = client.post(
        "/api/v1/batches", '{"rows": []}', content_type="application/json", **as_alice
    )
    assert "at most 10 are read" in assert_problem(response, 413)["detail"]


def test_answers_are_json_only(client, as_alice):
    assert_problem(client.get("/api/v1/me", HTTP_ACCEPT="text/html", **as_alice), 406)


def test_ids_beyond_the_database_are_404(client, as_alice):
    assert_problem(client.get(f"/api/v1/submissions/{2**70}", **as_alice), 404)
    assert_problem(client.get(f"/api/v1/batches/{2**70}", **as_alice), 404)
    assert_problem(client.get("/api/v1/batches/1?after_line=99999999999", **as_alice), 404)


def test_odd_numbers_and_characters_are_400_not_500(client, as_alice, team_a):
    for query in ("?page_size=²", "?page_size=-1", "?cursor=" + "A" * 41):
        assert_problem(client.get("/api/v1/submissions" + query, **as_alice), 400)
    rows = [{"url": "https://videos.example.com/a.mp4", "camera_model": "EOS\x00"}]
    response = client.post(
        "/api/v1/batches", {"team": team_a.slug, "rows": rows},
        content_type="application/json", **as_alice,
    )  # fmt: skip
    assert "NUL" in assert_problem(response, 400)["errors"]["rows"][0]
