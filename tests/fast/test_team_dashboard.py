"""A team's dashboard (`/teams/<slug>/`): members see totals, managers also see each member."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from tests.factories import SubmissionFactory, TeamFactory
from uploads.models import Status


def url(team):
    return reverse("team_dashboard", args=[team.slug])


def test_a_member_sees_the_teams_totals_but_not_the_member_breakdown(
    client, alice, bob, team_a, team_b, outsider
):
    SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    SubmissionFactory(team=team_a, submitter=bob, status=Status.FAILED)
    SubmissionFactory(team=team_b, submitter=outsider, status=Status.PARSED)
    client.force_login(alice)
    response = client.get(url(team_a))
    assert response.status_code == 200
    assert response.context["figures"].total == 2
    assert response.context["figures"].success_rate_display == "50%"
    assert response.context["members"] is None
    page = response.content.decode()
    assert "Per member" not in page
    assert "managers also see" in page


def test_a_manager_sees_counts_per_member(client, alice, bob, manager, team_a):
    SubmissionFactory.create_batch(2, team=team_a, submitter=alice, status=Status.PARSED)
    SubmissionFactory(team=team_a, submitter=bob, status=Status.FAILED)
    client.force_login(manager)
    response = client.get(url(team_a))
    rows = response.context["members"]
    assert [(r.username, r.total, r.done, r.failed) for r in rows] == [
        ("alice", 2, 2, 0),
        ("bob", 1, 0, 1),
    ]
    assert "Per member" in response.content.decode()


def test_another_teams_member_gets_404(client, outsider, team_a):
    client.force_login(outsider)
    assert client.get(url(team_a)).status_code == 404


def test_an_unknown_team_is_404(client, alice):
    client.force_login(alice)
    assert client.get(reverse("team_dashboard", args=["no-such-team"])).status_code == 404


def test_a_superuser_opens_any_team_with_the_breakdown(client, superuser, alice, team_a):
    SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(superuser)
    response = client.get(url(team_a))
    assert response.status_code == 200
    assert [r.username for r in response.context["members"]] == ["alice"]


def test_the_team_figures_never_count_another_teams_rows(client, manager, team_a, outsider, team_b):
    SubmissionFactory.create_batch(3, team=team_b, submitter=outsider, status=Status.FAILED)
    client.force_login(manager)
    response = client.get(url(team_a))
    assert response.context["figures"].total == 0
    assert response.context["members"] == []
    assert response.context["figures"].chart.total == 0


def test_the_status_tiles_link_to_the_teams_list(client, alice, team_a):
    SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(alice)
    page = client.get(url(team_a)).content.decode()
    assert f"/submissions/?submitter=any&amp;team={team_a.slug}&amp;status=failed" in page


def test_a_member_of_two_teams_sees_each_separately(client, alice, team_a):
    other = TeamFactory(name="Charlie")
    other.memberships.create(user=alice)
    SubmissionFactory(team=other, submitter=alice)
    client.force_login(alice)
    assert client.get(url(team_a)).context["figures"].total == 0
    assert client.get(url(other)).context["figures"].total == 1


def test_a_manager_sees_what_needs_attention_oldest_first_and_only_their_teams(
    client, alice, manager, outsider, team_a, team_b
):
    now = timezone.now()
    newer = SubmissionFactory(team=team_a, submitter=alice, status=Status.FAILED)
    older = SubmissionFactory(
        team=team_a, submitter=alice, status=Status.NEEDS_REVIEW, created_at=now - timedelta(1)
    )
    SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    theirs = SubmissionFactory(team=team_b, submitter=outsider, status=Status.FAILED)
    client.force_login(manager)
    response = client.get(url(team_a))
    assert response.context["attention"] == [older, newer]
    assert theirs.url not in response.content.decode()
    assert "status=attention&amp;submitter=any&amp;sort=date&amp;team=alpha" in (
        response.content.decode()
    )
    client.force_login(alice)
    response = client.get(url(team_a))
    assert response.context["attention"] is None
    assert "Needs attention" not in response.content.decode()
