"""Submissions through the API: the form's rules and messages, the list's filters with
cursor pages, a submission's timeline and place, cancelling."""

import pytest

from tests.factories import SubmissionFactory, bearer
from uploads.api.serializers import SubmissionSerializer, submission_body
from uploads.forms import SubmissionForm
from uploads.models import Event, Status, Submission

pytestmark = pytest.mark.django_db

SUBMISSIONS = "/api/v1/submissions"


def post(client, headers, body, path=SUBMISSIONS):
    return client.post(path, body, content_type="application/json", **headers)


def test_a_submission_is_made_with_the_forms_values(client, as_alice, team_a, clip_url):
    body = {"team": team_a.slug, "url": clip_url, "tags": ["beach", " dawn ", "beach"],
            "latitude": "48,8566", "longitude": 2.3522, "retain_original_video": True,
            "camera_model": "EOS"}  # fmt: skip
    response = post(client, as_alice, body)
    assert response.status_code == 201, response.content
    made = response.json()
    submission = Submission.objects.get(pk=made["id"])
    assert response["Location"].endswith(f"/api/v1/submissions/{submission.pk}")
    assert submission.tags == ["beach", "dawn"]
    assert str(submission.latitude) == "48.8566000" and submission.retain_original_video
    assert submission.url_check  # the URL was checked, as the form checks it
    assert made["status"] == "queued" and made["team"] == team_a.slug
    detail = client.get(response["Location"], **as_alice).json()
    assert detail["queue_place"] == 1 and detail["estimated_send_at"]
    assert detail["events"][0]["kind"] == Event.Kind.CREATED


def form_messages(user, data):
    form = SubmissionForm(data, user=user)
    assert not form.is_valid()
    return {field: list(messages) for field, messages in form.errors.items()}


@pytest.mark.parametrize(
    "fields",
    [
        {"url": ""},
        {"url": "ftp://example.com/v.mp4"},
        {"latitude": "91", "longitude": "0"},
        {"latitude": "10"},
        {"tags": ",".join(f"t{n}" for n in range(21))},
        {"datetime_taken": "2999-01-01T00:00:00Z"},
    ],
)
def test_refusals_carry_the_forms_own_messages(client, alice, as_alice, team_a, clip_url, fields):
    data = {"team": str(team_a.pk), "url": clip_url, **fields}
    response = post(client, as_alice, {**data, "team": team_a.slug})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"] == form_messages(alice, data)
    assert not Submission.objects.exists()


def test_another_teams_slug_is_refused_as_the_form_refuses_it(client, as_alice, team_b, clip_url):
    response = post(client, as_alice, {"team": team_b.slug, "url": clip_url})
    assert response.json()["errors"] == {"team": ["Choose one of your own teams."]}


def test_an_unreachable_link_can_be_confirmed_public(client, as_alice, team_a, video_server):
    body = {"team": team_a.slug, "url": video_server.url + "/missing.mp4"}
    refused = post(client, as_alice, body)
    assert refused.status_code == 400
    # A script has no checkbox to tick: the message names the request's field.
    message = refused.json()["errors"]["url"][0]
    assert "send it again with `confirm_public: true`" in message
    assert "tick" not in message.lower()
    response = post(client, as_alice, {**body, "confirm_public": True})
    assert response.status_code == 201, response.content
    assert response.json()["confirm_public"] is True


def test_a_duplicate_needs_send_again(client, as_alice, team_a, clip_url):
    body = {"team": team_a.slug, "url": clip_url}
    assert post(client, as_alice, body).status_code == 201
    again = post(client, as_alice, body)
    message = again.json()["errors"]["url"][0]
    assert "already submitted" in message
    assert "Send `send_again: true` to spend another upload on it." in message
    assert post(client, as_alice, {**body, "send_again": True}).status_code == 201


def test_the_cap_refuses_with_the_forms_message(client, as_alice, team_a, clip_url, settings):
    settings.MAX_WAITING_PER_PERSON = 1
    assert post(client, as_alice, {"team": team_a.slug, "url": clip_url}).status_code == 201
    response = post(client, as_alice, {"team": team_a.slug, "url": clip_url + "?2"})
    assert response.status_code == 400
    assert "waiting" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([1, 2], "__all__"),
        ('"text"', "__all__"),
        ({"team": "x", "url": "y", "colour": 1}, "colour"),
    ],
)
def test_a_body_of_the_wrong_shape_is_400(client, as_alice, body, field):
    response = post(client, as_alice, body)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_the_list_has_the_list_pages_filters(client, alice, bob, as_alice, team_a, team_b):
    mine = SubmissionFactory(team=team_a, submitter=alice, tags=["beach"])
    SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    teammates = SubmissionFactory(team=team_a, submitter=bob)
    SubmissionFactory(team=team_b)

    def ids(query):
        response = client.get(SUBMISSIONS + query, **as_alice)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert len(ids("")) == 2  # "me", as on the page
    assert ids("?submitter=any") == {mine.pk, teammates.pk, mine.pk + 1}
    assert ids("?tag=BEACH") == {mine.pk}
    assert ids(f"?submitter={bob.pk}") == {teammates.pk}
    assert ids("?status=queued&submitter=any") == {mine.pk, teammates.pk}


def test_a_team_outside_ones_own_is_404_and_bad_filters_are_400(client, as_alice, team_b):
    assert client.get(SUBMISSIONS + f"?team={team_b.slug}", **as_alice).status_code == 404
    for query in ("?date_from=yesterday", "?page_size=501", "?cursor=abc", "?sort=status"):
        response = client.get(SUBMISSIONS + query, **as_alice)
        assert response.status_code == 400, query
        assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("sort", ["-date", "date"])
def test_cursor_pages_walk_every_submission_once(client, alice, as_alice, team_a, sort):
    made = [SubmissionFactory(team=team_a, submitter=alice).pk for _ in range(7)]
    seen, url = [], f"{SUBMISSIONS}?page_size=3&sort={sort}"
    while url:
        page = client.get(url, **as_alice).json()
        assert len(page["results"]) <= 3
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == (sorted(made) if sort == "date" else sorted(made, reverse=True))


def test_the_detail_has_the_timeline_and_the_place(client, alice, as_alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    submission.record(Event.Kind.CREATED, "Submitted.", actor=alice)
    detail = client.get(f"{SUBMISSIONS}/{submission.pk}", **as_alice).json()
    assert detail["queue_place"] == 1 and detail["estimated_send_at"]
    assert [(e["kind"], e["actor"]) for e in detail["events"]] == [("created", "alice")]


def test_cancel_a_waiting_submission_once(client, alice, as_alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    path = f"{SUBMISSIONS}/{submission.pk}/cancel"
    response = post(client, as_alice, {}, path)
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = post(client, as_alice, {}, path)
    assert again.status_code == 409 and again.json()["status"] == 409


def test_a_teammate_may_see_but_not_cancel(client, bob, team_a, alice):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    headers = bearer(bob)
    assert client.get(f"{SUBMISSIONS}/{submission.pk}", **headers).status_code == 200
    response = post(client, headers, {}, f"{SUBMISSIONS}/{submission.pk}/cancel")
    assert response.status_code == 403
    submission.refresh_from_db()
    assert submission.status == Status.QUEUED


def test_me_and_teams_name_ones_teams_and_roles(client, manager, alice, team_a, team_b):
    assert client.get("/api/v1/teams", **bearer(alice)).json()[0]["role"] == "member"
    headers = bearer(manager)
    assert client.get("/api/v1/teams", **headers).json() == [
        {"slug": team_a.slug, "name": "Alpha", "unique_id": "alpha-scope", "role": "manager"}
    ]
    assert client.get("/api/v1/me", **headers).json()["teams"][0]["slug"] == team_a.slug


def test_a_manager_cancelling_what_no_longer_waits_is_told_so(client, manager, alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    response = post(client, bearer(manager), {}, f"{SUBMISSIONS}/{submission.pk}/cancel")
    assert response.status_code == 409


def test_the_shared_serializer_shows_each_submission_as_a_new_one_would(alice, bob, team_a):
    first = SubmissionFactory(team=team_a, submitter=alice, tags=["a"], latitude="1.5")
    second = SubmissionFactory(team=team_a, submitter=bob, status=Status.FAILED)
    for submission in (first, second, first):
        assert submission_body(submission) == SubmissionSerializer(submission).data
    assert submission_body(second)["submitter"] == bob.username
