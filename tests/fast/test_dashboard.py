"""My dashboard (`/`) and any user's dashboard for superusers (`/users/<id>/dashboard/`)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import SubmissionFactory
from uploads.models import Status


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_home_page_is_my_dashboard(client, alice, team_a):
    client.force_login(alice)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert response.context["title"] == "My dashboard"
    page = response.content.decode()
    assert "<svg" not in page and 'class="tiles"' not in page  # nothing to count yet
    assert "Submit your first video" in page
    SubmissionFactory(team=team_a, submitter=alice)
    page = client.get(reverse("home")).content.decode()
    assert "<svg" in page and "Submissions per day, last 30 days" in page
    assert "Submit your first video" not in page


@pytest.mark.parametrize("days", [7, 30, 90])
def test_the_period_selector_shows_that_many_days(client, alice, team_a, days):
    SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(alice)
    page = client.get(reverse("home"), {"days": days}).content.decode()
    assert f"Submissions per day, last {days} days" in page
    assert f"The {days} days before:" in page


@pytest.mark.parametrize("days", ["8", "x", "-30", "30.0"])
def test_a_period_that_is_not_offered_is_a_400_with_the_reason(client, alice, team_a, days):
    client.force_login(alice)
    response = client.get(reverse("home"), {"days": days})
    assert response.status_code == 400
    # In the portal's own page (its navigation, its stylesheet), not a bare text answer.
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "A dashboard shows the last 7, 30, 90 days" in page
    assert 'class="problem" role="alert"' in page and "css/portal.css" in page


def test_my_dashboard_counts_only_my_own_submissions(client, alice, bob, outsider, team_a, team_b):
    SubmissionFactory.create_batch(2, team=team_a, submitter=alice, status=Status.PARSED)
    SubmissionFactory(team=team_a, submitter=alice, status=Status.FAILED)
    SubmissionFactory(team=team_a, submitter=bob, status=Status.PARSED)
    SubmissionFactory(team=team_b, submitter=outsider, status=Status.FAILED)
    client.force_login(alice)
    figures = client.get(reverse("home")).context["figures"]
    assert figures.total == 3
    assert figures.counts[Status.PARSED] == 2 and figures.counts[Status.FAILED] == 1
    assert figures.success_rate_display == "67%"


def test_my_dashboard_leaves_out_teams_i_no_longer_belong_to(client, alice, team_a, team_b):
    SubmissionFactory(team=team_a, submitter=alice)
    SubmissionFactory(team=team_b, submitter=alice)  # sent while she was in B
    client.force_login(alice)
    assert client.get(reverse("home")).context["figures"].total == 1


def test_my_dashboard_shows_the_median_time_to_done(client, alice, team_a):
    created = timezone.now() - timedelta(hours=2)
    for minutes in (2, 4, 60):
        SubmissionFactory(
            team=team_a,
            submitter=alice,
            status=Status.PARSED,
            created_at=created,
            finished_at=created + timedelta(minutes=minutes),
        )
    client.force_login(alice)
    page = client.get(reverse("home")).content.decode()
    assert 'data-figure="median">4 min</span>' in page
    assert 'data-figure="success-rate">100%</span>' in page


def test_with_nothing_settled_the_figures_say_dash(client, alice, team_a):
    SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(alice)
    page = client.get(reverse("home")).content.decode()
    assert 'data-figure="success-rate">—</span>' in page
    assert 'data-figure="median">—</span>' in page


def test_recent_failures_show_the_last_five_with_reasons_and_links(client, alice, team_a):
    now = timezone.now()
    failures = [
        SubmissionFactory(
            team=team_a,
            submitter=alice,
            status=Status.FAILED,
            error_code="0409",
            error_message=f"Reason number {i}",
            created_at=now - timedelta(minutes=10 - i),
        )
        for i in range(7)
    ]
    client.force_login(alice)
    response = client.get(reverse("home"))
    assert response.context["failures"] == failures[:1:-1]
    page = response.content.decode()
    # A member reads plain words; what was recorded (a code, an HTTP answer) is for staff.
    assert "It was not sent to memories.ai." in page and "Reason number" not in page
    assert failures[6].get_absolute_url() in page
    alice.is_staff = True
    alice.save()
    page = client.get(reverse("home")).content.decode()
    assert "Reason number 6" in page and "Reason number 1" not in page


def test_waiting_items_show_their_place_in_the_queue(client, alice, bob, team_a):
    SubmissionFactory(team=team_a, submitter=bob)
    mine = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(alice)
    response = client.get(reverse("home"))
    assert response.context["waiting"] == [mine]
    assert "place 2" in response.content.decode()


def test_a_dashboard_with_waiting_items_polls_for_their_status(client, alice, team_a):
    waiting = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(alice)
    page = client.get(reverse("home")).content.decode()
    assert f'hx-get="{reverse("submission_statuses")}?ids={waiting.pk}"' in page
    assert 'hx-trigger="every 3s"' in page


def test_a_dashboard_with_nothing_pending_does_not_poll(client, alice, team_a):
    SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    client.force_login(alice)
    assert "hx-trigger" not in client.get(reverse("home")).content.decode()


def test_the_navigation_links_to_my_teams_dashboards(client, alice, team_a, team_b):
    client.force_login(alice)
    page = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("team_dashboard", args=[team_a.slug])}"' in page
    assert reverse("team_dashboard", args=[team_b.slug]) not in page


def test_a_superuser_opens_anyones_dashboard(client, superuser, alice, outsider, team_a, team_b):
    SubmissionFactory.create_batch(2, team=team_a, submitter=alice)
    SubmissionFactory(team=team_b, submitter=outsider)
    client.force_login(superuser)
    response = client.get(reverse("user_dashboard", args=[alice.pk]))
    assert response.status_code == 200
    assert response.context["title"] == "alice’s dashboard"
    assert response.context["figures"].total == 2


def test_other_users_get_404_for_someone_elses_dashboard(client, alice, bob, outsider, manager):
    for viewer in (bob, outsider, manager):
        client.force_login(viewer)
        assert client.get(reverse("user_dashboard", args=[alice.pk])).status_code == 404


def test_my_own_dashboard_by_id_is_the_home_page(client, alice):
    client.force_login(alice)
    response = client.get(reverse("user_dashboard", args=[alice.pk]))
    assert response.status_code == 302 and response.url == reverse("home")


def test_a_missing_user_is_404_even_for_a_superuser(client, superuser):
    client.force_login(superuser)
    assert client.get(reverse("user_dashboard", args=[99999])).status_code == 404


def test_an_id_beyond_any_row_is_404_not_an_error(client, superuser):
    client.force_login(superuser)
    response = client.get(reverse("user_dashboard", args=[99999999999999999999]))
    assert response.status_code == 404
