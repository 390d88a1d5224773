"""A viewer (Membership.Role.VIEWER) reads what a member reads and changes nothing.

Every view outside the admin is classified here: a read the viewer gets, a write the
viewer is refused (403 with the reason, or 404 where the page is a manager's or an
administrator's and so hidden), or neither (public, or one's own settings and tokens).
A new view in none of them fails `test_every_view_is_classified_for_the_viewer`.
"""

import pytest
from django.urls import reverse

from tests.factories import SubmissionFactory, bearer
from tests.isolation import assert_api_refused_to_viewer, assert_refused_to_viewer, url_patterns
from uploads.models import (
    ApiToken,
    Batch,
    BatchRow,
    Membership,
    Notice,
    Status,
    Submission,
    Topic,
    WebhookEndpoint,
)

pytestmark = pytest.mark.django_db

# Pages that change something: (URL name, method, what the viewer gets).
WRITES = [
    ("submission_new", "get", 403),
    ("submission_new", "post", 403),
    ("submission_cancel", "get", 403),
    ("submission_cancel", "post", 403),
    ("submission_move_to_front", "post", 403),
    ("submission_resend", "get", 403),
    ("submission_resend", "post", 403),
    ("submission_mark_failed", "get", 403),
    ("submission_mark_failed", "post", 403),
    ("batch_new", "get", 403),
    ("batch_new", "post", 403),
    ("batch_confirm", "post", 403),
    ("batch_cancel", "post", 403),
    ("batch_move_to_front", "post", 403),
    ("submission_bulk", "post", 403),
    # A team's webhooks are its managers': hidden from members and viewers alike.
    ("webhook_list", "get", 404),
    ("webhook_list", "post", 404),
    ("webhook_detail", "get", 404),
    ("webhook_test", "post", 404),
    ("webhook_enable", "post", 404),
    ("webhook_delete", "get", 404),
    ("webhook_delete", "post", 404),
    ("webhook_edit", "get", 404),
    ("webhook_edit", "post", 404),
    ("webhook_delivery", "get", 404),
    ("webhook_redeliver", "post", 404),
    ("sending_resume", "post", 404),  # administrators only
]
# The API's writes, with a token the viewer made while still a member (read and submit).
API_WRITES = [
    ("api:submissions", "post"),
    ("api:submission_cancel", "post"),
    ("api:batches", "post"),
    ("api:batch_confirm", "post"),
]
# What the viewer sees, as a member would (200).
READS = [
    "home", "team_dashboard", "submission_list", "submission_export", "submission_statuses",
    "submission_detail", "batch_detail", "batch_progress", "batch_rows_to_fix",
    "batch_template",
]  # fmt: skip
API_READS = ["api:me", "api:teams", "api:submissions", "api:submission", "api:batch"]
# Neither: no team's data changes. One's own settings and tokens (a token of a viewer's
# can only read: tested below), one's own dashboard (a redirect home), the public few.
NEITHER = {
    "person_settings", "tokens", "token_revoke", "user_dashboard", "login", "logout",
    "healthz", "healthz_workers", "metrics", "memories_callback", "unsubscribe", "api:schema",
    "api:docs", "api:not_found",
    "openid_connect_login", "openid_connect_callback",
}  # fmt: skip


def test_every_view_is_classified_for_the_viewer():
    classified = (
        {name for name, _, _ in WRITES}
        | {name for name, _ in API_WRITES}
        | set(READS)
        | set(API_READS)
        | NEITHER
    )
    unclassified = {
        name for _, name, _ in url_patterns() if not name.startswith("admin:")
    } - classified
    assert not unclassified, f"say what a viewer may do with {sorted(unclassified)} here"


@pytest.fixture
def world(team_a, alice, viewer, manager):
    """What the viewer could act on: alice's waiting submission, the viewer's own waiting
    one (from when they were a member), their checked batch and their queued one, and a
    webhook of the team."""
    theirs = SubmissionFactory(team=team_a, submitter=alice)
    own = SubmissionFactory(team=team_a, submitter=viewer)
    SubmissionFactory(team=team_a, submitter=alice, status=Status.FAILED)
    checked = Batch.objects.create(
        created_by=viewer, source="pasted", row_count=1, state=Batch.State.CHECKED
    )
    BatchRow.objects.create(
        batch=checked, line=1, url="https://videos.example.com/a.mp4", team=team_a,
        given={"url": "https://videos.example.com/a.mp4"}, state=BatchRow.State.READY,
    )  # fmt: skip
    queued = Batch.objects.create(
        created_by=viewer, source="pasted", row_count=1, state=Batch.State.QUEUED
    )
    row = BatchRow.objects.create(
        batch=queued, line=1, url=own.url, team=team_a, given={"url": own.url},
        state=BatchRow.State.QUEUED,
    )  # fmt: skip
    Submission.objects.filter(pk=own.pk).update(batch=queued, batch_row=row)
    endpoint = WebhookEndpoint.objects.create(team=team_a, url="https://hooks.example.com/a")
    delivery = Notice.objects.create(channel="webhook", endpoint=endpoint, topic=Topic.TEST)
    return {"theirs": theirs, "own": own, "checked": checked, "queued": queued,
            "endpoint": endpoint, "delivery": delivery, "team": team_a}  # fmt: skip


def state_of(world):
    """Everything a write could change."""
    return (
        sorted(Submission.objects.values_list("pk", "status", "fronted_at")),
        sorted(Batch.objects.values_list("pk", "state", "cancel_requested_at")),
        sorted(WebhookEndpoint.objects.values_list("pk", "is_active")),
        world["endpoint"].notices.count(),
    )


def path_of(name, world):
    team, endpoint = world["team"], world["endpoint"]
    if name in ("webhook_delivery", "webhook_redeliver"):
        return reverse(name, args=[team.slug, endpoint.pk, world["delivery"].pk])
    if name.startswith("webhook_"):
        return reverse(name, args=[team.slug] + ([endpoint.pk] if name != "webhook_list" else []))
    if name in ("submission_cancel", "submission_move_to_front", "api:submission_cancel"):
        return reverse(name, args=[world["own"].pk])  # the viewer's own: still refused
    if name.startswith("submission_") and name not in ("submission_new", "submission_bulk"):
        return reverse(name, args=[world["theirs"].pk])
    if name in ("batch_confirm", "api:batch_confirm"):
        return reverse(name, args=[world["checked"].pk])
    if name in ("batch_cancel", "batch_move_to_front"):
        return reverse(name, args=[world["queued"].pk])
    return reverse(name)


FORMS = {
    "submission_new": {"url": "https://videos.example.com/new.mp4", "team": "{team}"},
    "submission_cancel": {"confirmed": "yes"},
    "submission_resend": {"confirmed": "yes"},
    "submission_mark_failed": {"confirmed": "yes"},
    "batch_new": {"urls": "https://videos.example.com/b.mp4", "team": "{team}"},
    "webhook_list": {"url": "https://hooks.example.com/new", "topics": ["submission.failed"]},
    "webhook_enable": {"enable": "0"},
    "webhook_edit": {"url": "https://hooks.example.com/edited", "topics": ["submission.failed"]},
    "submission_bulk": {"action": "cancel", "ids": "{own}", "confirmed": "yes"},
}


@pytest.mark.parametrize(("name", "method", "status"), WRITES)
def test_a_viewer_is_refused_every_write_and_nothing_changes(
    client, viewer, world, name, method, status
):
    before = state_of(world)
    data = {
        key: {"{team}": str(world["team"].pk), "{own}": str(world["own"].pk)}.get(value, value)
        if isinstance(value, str)
        else value
        for key, value in FORMS.get(name, {}).items()
    }
    response = assert_refused_to_viewer(
        client, viewer, path_of(name, world), method=method, data=data, status=status
    )
    if status == 403:
        assert "viewer" in response.content.decode()
    assert state_of(world) == before


@pytest.mark.parametrize(("name", "method"), API_WRITES)
def test_the_api_refuses_a_viewers_every_write(client, viewer, world, name, method):
    headers = bearer(viewer)  # read and submit, made while a member
    body = {"url": "https://videos.example.com/new.mp4", "team": world["team"].slug}
    if name == "api:batches":
        body = {"team": world["team"].slug, "rows": [{"url": body["url"]}]}
    before = state_of(world)
    response = assert_api_refused_to_viewer(
        client, headers, path_of(name, world), method=method, data=body
    )
    assert "viewer" in response.json()["detail"]
    assert state_of(world) == before


@pytest.mark.parametrize("name", READS)
def test_a_viewer_sees_what_a_member_sees(client, viewer, world, name):
    client.force_login(viewer)
    team, theirs = world["team"], world["theirs"]
    args = {
        "team_dashboard": [team.slug],
        "submission_detail": [theirs.pk],
        "batch_detail": [world["queued"].pk],
        "batch_progress": [world["queued"].pk],
        "batch_rows_to_fix": [world["checked"].pk],
    }.get(name, [])
    path = reverse(name, args=args)
    if name == "submission_statuses":
        path += f"?ids={theirs.pk}"
    response = client.get(path, {"submitter": "any"} if name == "submission_list" else {})
    assert response.status_code == 200, (path, response.status_code)


def test_a_viewer_sees_the_teams_submissions_and_no_button_to_change_them(client, viewer, world):
    client.force_login(viewer)
    listed = client.get(reverse("submission_list"), {"submitter": "any"}).content.decode()
    assert world["theirs"].url in listed.replace("<wbr>", "")  # breakable after its slashes
    page = client.get(world["own"].get_absolute_url()).content.decode()
    assert reverse("submission_cancel", args=[world["own"].pk]) not in page
    assert reverse("submission_new") not in page  # the navigation leaves it out too
    failed = Submission.objects.get(status=Status.FAILED)
    assert "?again=" not in client.get(failed.get_absolute_url()).content.decode()
    exported = b"".join(client.get(reverse("submission_export")).streaming_content).decode()
    assert world["own"].url in exported


@pytest.mark.parametrize("name", API_READS)
def test_a_viewers_read_token_reads(client, viewer, world, name):
    headers = bearer(viewer, scopes=("read",))
    args = {"api:submission": [world["theirs"].pk], "api:batch": [world["queued"].pk]}
    path = reverse(name, args=args.get(name, []))
    response = client.get(path, **headers)
    assert response.status_code == 200, (path, response.status_code)
    if name == "api:teams":
        assert response.json()[0]["role"] == Membership.Role.VIEWER


def test_a_viewer_cannot_make_a_token_that_submits(client, viewer):
    client.force_login(viewer)
    response = client.post(reverse("tokens"), {"name": "x", "scopes": ["read", "submit"]})
    assert response.status_code == 200
    assert "can only read" in response.content.decode()
    assert not ApiToken.objects.filter(user=viewer).exists()
    client.post(reverse("tokens"), {"name": "reads", "scopes": ["read"], "expires_in": "30"})
    assert list(ApiToken.objects.filter(user=viewer).values_list("scopes", flat=True)) == [["read"]]


def test_a_viewer_of_one_team_submits_to_the_other_only(client, viewer, team_a, team_b, world):
    """A viewer in A and a member in B: the form offers B alone, and A is refused."""
    Membership.objects.create(team=team_b, user=viewer)
    client.force_login(viewer)
    page = client.get(reverse("submission_new")).content.decode()
    assert team_b.name in page and f'value="{team_a.pk}"' not in page
    response = client.post(
        reverse("submission_new"),
        {"url": "https://videos.example.com/new.mp4", "team": str(team_a.pk)},
    )
    assert (
        response.status_code == 200 and "Choose one of your own teams" in response.content.decode()
    )
    # Alice's submission in A is still not the viewer's to cancel, nor their own there.
    assert_refused_to_viewer(
        client, viewer, reverse("submission_cancel", args=[world["own"].pk]), method="post",
        data={"confirmed": "yes"}, status=403,
    )  # fmt: skip


def test_the_helper_catches_a_write_let_through(client, alice, world):
    """alice is a member: the refusal check must fail for her, or it proves nothing."""
    with pytest.raises(AssertionError):
        assert_refused_to_viewer(client, alice, reverse("submission_new"), status=403)


def test_the_helper_for_changing_several_refuses_a_viewer_of_any_of_their_teams(
    viewer, alice, world, team_b
):
    from uploads.selectors import ReadOnly, get_submissions_to_change

    pks = [world["theirs"].pk, world["own"].pk]
    assert {s.pk for s in get_submissions_to_change(alice, pks)} == set(pks)
    with pytest.raises(ReadOnly):
        get_submissions_to_change(viewer, pks)
    Membership.objects.create(team=team_b, user=viewer)  # a member elsewhere changes nothing
    with pytest.raises(ReadOnly):
        get_submissions_to_change(viewer, pks)
