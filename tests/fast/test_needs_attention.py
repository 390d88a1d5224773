"""Submissions that need a person are seen: /healthz/workers, and a banner for those who decide."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.conftest import member_of
from tests.factories import SubmissionFactory
from uploads.models import Membership, Status, Submission

BANNER = "banner-review"


@pytest.fixture
def two_for_review(team_a, team_b, alice, outsider):
    old = timezone.now() - timedelta(hours=3)
    a = SubmissionFactory(team=team_a, submitter=alice, status=Status.NEEDS_REVIEW)
    b = SubmissionFactory(team=team_b, submitter=outsider, status=Status.NEEDS_REVIEW)
    Submission.objects.filter(pk=a.pk).update(updated_at=old)
    return a, b


def test_the_workers_health_reports_how_many_need_review_and_the_oldest(client, two_for_review):
    report = client.get(reverse("healthz_workers")).json()
    assert report["needs_review"]["count"] == 2
    assert 3 * 3600 - 60 < report["needs_review"]["oldest_age_seconds"] < 3 * 3600 + 60


def test_superusers_see_every_team_in_the_banner(client, superuser, two_for_review):
    client.force_login(superuser)
    page = client.get(reverse("home")).content.decode()
    assert "2 submissions need review" in page
    assert "status=attention" in page


def test_a_manager_is_not_told_on_every_page_but_finds_their_teams_on_its_dashboard(
    client, manager, team_a, two_for_review
):
    # Only an administrator can settle it: a banner on every page would ask the manager
    # for what they cannot do.
    client.force_login(manager)
    assert BANNER not in client.get(reverse("home")).content.decode()
    page = client.get(reverse("team_dashboard", args=[team_a.slug])).content.decode()
    link = reverse("submission_list") + "?status=attention&amp;submitter=any&amp;sort=date"
    assert f"{link}&amp;team={team_a.slug}" in page
    listed = client.get(
        reverse("submission_list"),
        {"status": "attention", "submitter": "any", "sort": "date", "team": team_a.slug},
    )
    assert list(listed.context["page"].object_list) == [two_for_review[0]]


def test_members_and_other_teams_managers_see_no_banner(client, alice, team_b, two_for_review):
    client.force_login(alice)
    assert BANNER not in client.get(reverse("home")).content.decode()
    Submission.objects.filter(team=team_b).update(status=Status.FAILED)
    other = member_of(team_b, "bea", Membership.Role.MANAGER)
    client.force_login(other)
    page = client.get(reverse("home")).content.decode()
    assert BANNER not in page
