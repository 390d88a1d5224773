"""A user of team B gets 404 for team A's submissions, on every view that has them."""

import pytest
from django.urls import reverse

from tests.factories import SubmissionFactory
from tests.isolation import assert_hidden, assert_not_listed, url_patterns
from uploads.models import Event, Status, UploadGate

pytestmark = pytest.mark.django_db

# Views about one submission: (URL name, method).
ONE_SUBMISSION = [
    ("submission_detail", "get"),
    ("submission_cancel", "post"),
    ("submission_move_to_front", "post"),
]
# Views that list or export submissions (home is my dashboard).
LISTINGS = ["submission_list", "submission_export", "home"]
# Views about a whole team or person, or a set of submissions by id: checked below.
OTHERS = {"team_dashboard", "user_dashboard", "submission_statuses"}
# Views that show no submissions (the form lists the user's own teams, tested in
# test_submission_views; resuming sending is for superusers, tested below).
NO_SUBMISSIONS = {
    "login", "logout", "healthz", "memories_callback", "submission_new", "sending_resume",
}  # fmt: skip


@pytest.fixture
def theirs(team_a, alice):
    """A submission of team A, with some history."""
    submission = SubmissionFactory(team=team_a, submitter=alice, video_no="VI-A-1")
    submission.record(Event.Kind.CREATED, "Submitted.", actor=alice)
    return submission


def test_every_view_outside_the_admin_is_checked_here():
    checked = {name for name, _ in ONE_SUBMISSION} | set(LISTINGS) | OTHERS | NO_SUBMISSIONS
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
