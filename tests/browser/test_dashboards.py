"""The dashboards in a browser: counts, the chart and its text alternative."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browsing import log_in, screenshot
from tests.factories import SubmissionFactory, seed
from uploads.models import Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_my_dashboard_shows_counts_and_a_chart_with_its_numbers(page, alice, bob, team_a):
    now = timezone.now()
    for days, status in [(0, Status.PARSED), (0, Status.PARSED), (1, Status.FAILED), (3, "queued")]:
        created = now - timedelta(days=days)
        SubmissionFactory(
            team=team_a,
            submitter=alice,
            status=status,
            created_at=created,
            finished_at=created + timedelta(minutes=4) if status == Status.PARSED else None,
            error_message="The URL answered 404." if status == Status.FAILED else "",
        )
    SubmissionFactory(team=team_a, submitter=bob, status=Status.FAILED)

    log_in(page, alice)
    tiles = page.locator(".tiles")
    expect(tiles.locator("[data-status=parsed] .tile-count")).to_have_text("2")
    expect(tiles.locator("[data-status=failed] .tile-count")).to_have_text("1")
    expect(tiles.locator("[data-status=queued] .tile-count")).to_have_text("1")
    expect(page.locator("[data-figure=success-rate]")).to_have_text("67%")
    expect(page.locator("[data-figure=median]")).to_have_text("4 min")
    # In plain words for a member; what was recorded is on the submission's page.
    expect(page.locator(".item .reason")).to_have_text(
        "It was not sent to memories.ai. What to do next"
    )

    chart = page.get_by_role("img", name="Submissions per day, last 30 days")
    expect(chart).to_be_visible()
    expect(chart.locator("rect")).to_have_count(3)  # done today (2), failed, waiting
    expect(chart.locator("desc")).to_contain_text("4 submissions from")
    page.get_by_text("The numbers, day by day").click()
    today = page.locator(".chart-data tbody tr").last
    expect(today.locator("td")).to_have_text(["2", "0", "0", "0", "0", "2"])
    page.get_by_text("The numbers, day by day").click()
    screenshot(page, "dashboard")


def test_a_manager_sees_the_team_dashboard_with_each_member(page, manager, alice, bob, team_a):
    seed(40, team_a, [alice, bob, manager])

    log_in(page, manager)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alpha").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Alpha")
    members = page.locator("table.members tbody tr")
    expect(members).to_have_count(3)
    expect(members.first.locator("th")).to_have_text("alice")
    expect(page.get_by_role("img", name="Submissions per day, last 30 days")).to_be_visible()
    screenshot(page, "team-dashboard")
