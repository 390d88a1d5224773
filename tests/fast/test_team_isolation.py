"""A user of team B gets 404 for team A's submissions, on every view that has them."""

import pytest
from django.urls import reverse

from tests.factories import SubmissionFactory, bearer
from tests.isolation import assert_api_hidden, assert_hidden, assert_not_listed, url_patterns
from uploads.models import Batch, BatchRow, Event, Membership, Status, Submission, UploadGate

pytestmark = pytest.mark.django_db

# Views about one submission: (URL name, method).
ONE_SUBMISSION = [
    ("submission_detail", "get"),
    ("submission_cancel", "get"),
    ("submission_cancel", "post"),
    ("submission_move_to_front", "post"),
    ("submission_resend", "get"),
    ("submission_resend", "post"),
    ("submission_mark_failed", "get"),
    ("submission_mark_failed", "post"),
]
# Views that list or export submissions (home is my dashboard).
LISTINGS = ["submission_list", "submission_export", "home"]
# Views about a whole team or person, or a set of submissions by id: checked below.
OTHERS = {"team_dashboard", "user_dashboard", "submission_statuses"}
# Views about one batch (its rows name submissions and teams): (URL name, method).
ONE_BATCH = [
    ("batch_detail", "get"),
    ("batch_progress", "get"),
    ("batch_confirm", "post"),
    ("batch_cancel", "post"),
    ("batch_move_to_front", "post"),
    ("batch_rows_to_fix", "get"),
]
# Views that show no submissions (the forms list the user's own teams, tested in
# test_submission_views and test_batches; resuming sending is for superusers, tested
# below; the batch template names the user's own first team, tested below).
NO_SUBMISSIONS = {
    "login", "logout", "healthz", "healthz_workers", "metrics", "memories_callback",
    "submission_new", "sending_resume", "batch_new", "batch_template", "person_settings",
    "openid_connect_login", "openid_connect_callback",
}  # fmt: skip


# --- notifications: a team's webhook pages are its managers' only (404 for another
# team, and for members); the unsubscribe link shows no submissions.
ONE_WEBHOOK = [
    ("webhook_detail", "get"),
    ("webhook_test", "post"),
    ("webhook_enable", "post"),
    ("webhook_delete", "get"),
    ("webhook_delete", "post"),
    ("webhook_edit", "get"),
    ("webhook_edit", "post"),
]
# One delivery of an endpoint: (URL name, method).
ONE_DELIVERY = [("webhook_delivery", "get"), ("webhook_redeliver", "post")]
OTHERS |= {"webhook_list", "submission_bulk"}
NO_SUBMISSIONS |= {"unsubscribe"}


@pytest.fixture
def their_webhook(team_a, manager):
    from uploads.models import WebhookEndpoint

    return WebhookEndpoint.objects.create(team=team_a, url="https://hooks.example.com/a")


@pytest.mark.parametrize(("name", "method"), ONE_WEBHOOK)
def test_another_teams_webhook_is_404_and_unchanged(
    client, outsider, bob, their_webhook, name, method
):
    url = reverse(name, args=[their_webhook.team.slug, their_webhook.pk])
    for person in (outsider, bob):  # bob is a member of team A, not a manager
        assert_hidden(client, person, url, method=method)
    their_webhook.refresh_from_db()
    assert their_webhook.is_active and not their_webhook.notices.exists()


@pytest.mark.parametrize(("name", "method"), ONE_DELIVERY)
def test_another_teams_delivery_is_404_and_not_sent_again(
    client, outsider, bob, their_webhook, name, method
):
    from uploads.models import Notice

    notice = Notice.objects.create(channel="webhook", endpoint=their_webhook, topic="test")
    url = reverse(name, args=[their_webhook.team.slug, their_webhook.pk, notice.pk])
    for person in (outsider, bob):
        assert_hidden(client, person, url, method=method)
    assert list(Notice.objects.all()) == [notice]


def test_another_teams_submissions_are_not_acted_on_in_bulk(client, outsider, theirs):
    client.force_login(outsider)
    for action in ("cancel", "front"):
        data = {"action": action, "ids": [theirs.pk], "confirmed": "yes"}
        response = client.post(reverse("submission_bulk"), data, follow=True)
        assert "Tick the submissions to act on first." in response.content.decode()
        asked = client.post(
            reverse("submission_bulk") + "?submitter=any", {"action": action, "all": "1"}
        )
        assert asked.status_code == 302  # nothing of theirs is counted
    theirs.refresh_from_db()
    assert theirs.status == Status.QUEUED and theirs.fronted_at is None


def test_another_teams_webhook_list_is_404(client, outsider, bob, team_a):
    for person in (outsider, bob):
        assert_hidden(client, person, reverse("webhook_list", args=[team_a.slug]))
        assert_hidden(client, person, reverse("webhook_list", args=[team_a.slug]), method="post")


# ---


@pytest.fixture
def theirs(team_a, alice):
    """A submission of team A, with some history."""
    submission = SubmissionFactory(team=team_a, submitter=alice, video_no="VI-A-1")
    submission.record(Event.Kind.CREATED, "Submitted.", actor=alice)
    return submission


# --- the API (a token acts within its user's teams) --------------------------------
API_ONE_SUBMISSION = [("api:submission", "get"), ("api:submission_cancel", "post")]
API_ONE_BATCH = [("api:batch", "get"), ("api:batch_confirm", "post")]
# Checked below: the list, one's teams, a batch's team; the rest show no submissions
# (tokens: one's own only, tested in test_api_tokens).
API_OTHERS = {"api:submissions", "api:me", "api:teams", "api:batches"}
API_NO_SUBMISSIONS = {"api:schema", "api:docs", "api:not_found", "tokens", "token_revoke"}
API_CHECKED = {name for name, _ in API_ONE_SUBMISSION + API_ONE_BATCH} | API_OTHERS


def test_every_view_outside_the_admin_is_checked_here():
    checked = (
        {name for name, _ in ONE_SUBMISSION + ONE_BATCH + ONE_WEBHOOK + ONE_DELIVERY}
        | set(LISTINGS)
        | OTHERS
        | NO_SUBMISSIONS
        | API_CHECKED
        | API_NO_SUBMISSIONS
    )
    unchecked = [
        name
        for _, name, _ in url_patterns()
        if not name.startswith("admin:") and name not in checked
    ]
    assert not unchecked, f"add a team isolation check (tests/isolation.py) for {unchecked}"


@pytest.mark.parametrize(("name", "method"), ONE_SUBMISSION)
def test_another_team_gets_404_and_changes_nothing(client, outsider, theirs, name, method):
    before = list(theirs.events.values_list("id", "kind"))
    assert_hidden(client, outsider, reverse(name, args=[theirs.pk]), method=method)
    theirs.refresh_from_db()
    assert theirs.status == Status.QUEUED
    assert list(theirs.events.values_list("id", "kind")) == before


@pytest.mark.parametrize(("name", "method"), ONE_SUBMISSION)
def test_a_viewer_of_another_team_gets_404_too(client, team_b, theirs, name, method):
    """Isolation first: to a viewer of team B, team A's submission does not exist."""
    from tests.conftest import member_of

    watcher = member_of(team_b, "wanda", Membership.Role.VIEWER)
    assert_hidden(client, watcher, reverse(name, args=[theirs.pk]), method=method)
    assert_not_listed(client, watcher, reverse("submission_list"), [theirs])


@pytest.mark.parametrize("name", LISTINGS)
def test_listings_do_not_show_another_teams_submissions(client, outsider, theirs, name):
    assert_not_listed(client, outsider, reverse(name), [theirs])
    assert_not_listed(client, outsider, reverse(name), [theirs], data={"status": "queued"})


def test_another_teams_dashboard_is_404(client, outsider, theirs, team_a):
    assert_hidden(client, outsider, reverse("team_dashboard", args=[team_a.slug]))


def test_another_persons_dashboard_is_404_but_for_superusers(
    client, outsider, superuser, theirs, alice
):
    url = reverse("user_dashboard", args=[alice.pk])
    assert_hidden(client, outsider, url)
    client.force_login(superuser)
    assert client.get(url).status_code == 200


def test_the_status_fragment_does_not_answer_for_another_teams_submission(client, outsider, theirs):
    assert_hidden(client, outsider, reverse("submission_statuses") + f"?ids={theirs.pk}")


@pytest.fixture
def their_batch(team_a, alice, theirs):
    """A queued batch of alice's (team A), with a refused row and its submission."""
    batch = Batch.objects.create(created_by=alice, source="pasted", row_count=2)
    batch.rows.create(line=1, given={"url": theirs.url}, team=team_a, state=BatchRow.State.QUEUED)
    batch.rows.create(line=2, given={"url": "https://secret.example.com/refused.mp4"},
                      team=team_a, state=BatchRow.State.REFUSED, problem="A web page.")  # fmt: skip
    Submission.objects.filter(pk=theirs.pk).update(batch=batch, batch_row=batch.rows.get(line=1))
    Batch.objects.filter(pk=batch.pk).update(state=Batch.State.QUEUED, queued_count=1)
    return batch


@pytest.mark.parametrize(("name", "method"), ONE_BATCH)
@pytest.mark.parametrize("who", ["outsider", "bob"])
def test_another_persons_batch_is_404_and_changes_nothing(
    client, request, their_batch, theirs, name, method, who
):
    """A batch is its maker's: 404 for another team's member, and for a teammate too."""
    user = request.getfixturevalue(who)
    response = assert_hidden(client, user, reverse(name, args=[their_batch.pk]), method=method)
    assert b"secret.example.com" not in response.content
    theirs.refresh_from_db()
    assert theirs.status == Status.QUEUED
    assert Batch.objects.get(pk=their_batch.pk).cancel_requested_at is None
    assert Submission.objects.get(pk=theirs.pk).fronted_at is None


def test_the_batch_pages_list_only_ones_own_batches(client, outsider, their_batch):
    client.force_login(outsider)
    page = client.get(reverse("batch_new")).content.decode()
    assert their_batch.get_absolute_url() not in page


def test_the_batch_template_names_only_ones_own_team(client, outsider, team_a, team_b):
    client.force_login(outsider)
    content = b"".join(client.get(reverse("batch_template")).streaming_content).decode()
    assert team_b.slug in content and team_a.slug not in content


def test_only_superusers_resume_sending(client, alice):
    UploadGate.pause("memories.ai refused the account (0402): not enough points")
    assert_hidden(client, alice, reverse("sending_resume"), method="post")
    assert UploadGate.get().paused


def test_the_helpers_catch_a_leak(client, bob, theirs):
    """bob is in team A: the helpers must fail for him, or they prove nothing."""
    with pytest.raises(AssertionError):
        assert_hidden(client, bob, theirs.get_absolute_url())
    with pytest.raises(AssertionError):
        assert_not_listed(client, bob, theirs.get_absolute_url(), [theirs])


@pytest.mark.parametrize(("name", "method"), API_ONE_SUBMISSION)
def test_the_api_answers_404_for_another_teams_submission(client, outsider, theirs, name, method):
    assert_api_hidden(client, bearer(outsider), reverse(name, args=[theirs.pk]), method=method)
    theirs.refresh_from_db()
    assert theirs.status == Status.QUEUED


@pytest.mark.parametrize(("name", "method"), API_ONE_BATCH)
@pytest.mark.parametrize("who", ["outsider", "bob"])
def test_the_api_answers_404_for_another_persons_batch(
    client, request, their_batch, name, method, who
):
    headers = bearer(request.getfixturevalue(who))
    response = assert_api_hidden(
        client, headers, reverse(name, args=[their_batch.pk]), method=method
    )
    assert b"secret.example.com" not in response.content


def test_the_api_lists_and_names_only_ones_own_teams(client, outsider, theirs, team_a, team_b):
    headers = bearer(outsider)
    for query in ("", "?submitter=any", "?status=queued&submitter=any"):
        listed = client.get(reverse("api:submissions") + query, **headers).json()["results"]
        assert listed == []
    assert_api_hidden(client, headers, reverse("api:submissions") + f"?team={team_a.slug}")
    assert_api_hidden(
        client, headers, reverse("api:submissions") + f"?submitter={theirs.submitter_id}"
    )
    assert [t["slug"] for t in client.get(reverse("api:teams"), **headers).json()] == [team_b.slug]
    assert [t["slug"] for t in client.get(reverse("api:me"), **headers).json()["teams"]] == [
        team_b.slug
    ]
    response = client.post(
        reverse("api:batches"), {"team": team_a.slug, "rows": [{"url": theirs.url}]},
        content_type="application/json", **headers,
    )  # fmt: skip
    assert response.status_code == 400 and "team" in response.json()["errors"]
