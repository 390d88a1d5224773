"""A user of team B gets 404 for team A's submissions, on every view that has them."""

import pytest
from django.urls import reverse

from tests.factories import SubmissionFactory
from tests.isolation import assert_hidden, assert_not_listed
from tests.test_access import url_patterns
from uploads.models import Event, Status

pytestmark = pytest.mark.django_db

# Views about one submission: (URL name, method).
ONE_SUBMISSION = [("submission_detail", "get"), ("submission_cancel", "post")]
# Views that list or export submissions.
LISTINGS = ["submission_list"]
# Views that show no submissions (home only redirects; the form lists the user's
# own teams, tested in test_submission_views).
NO_SUBMISSIONS = {"login", "logout", "healthz", "memories_callback", "home", "submission_new"}


@pytest.fixture
def theirs(team_a, alice):
    """A submission of team A, with some history."""
    submission = SubmissionFactory(team=team_a, submitter=alice, video_no="VI-A-1")
    submission.record(Event.Kind.CREATED, "Submitted.", actor=alice)
    return submission


def test_every_view_outside_the_admin_is_checked_here():
    checked = {name for name, _ in ONE_SUBMISSION} | set(LISTINGS) | NO_SUBMISSIONS
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


def test_the_helpers_catch_a_leak(client, bob, theirs):
    """bob is in team A: the helpers must fail for him, or they prove nothing."""
    with pytest.raises(AssertionError):
        assert_hidden(client, bob, theirs.get_absolute_url())
    with pytest.raises(AssertionError):
        assert_not_listed(client, bob, theirs.get_absolute_url(), [theirs])
