"""A manager moves a waiting submission to the front; the team dashboard shows the quota."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browsing import log_in, screenshot
from tests.factories import SubmissionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_moves_a_submission_to_the_front_of_the_teams_line(
    page, manager, alice, bob, team_a
):
    team_a.monthly_quota = 50
    team_a.save()
    t0 = timezone.now() - timedelta(hours=1)
    for i in range(3):
        SubmissionFactory(team=team_a, submitter=alice, created_at=t0 + timedelta(minutes=i))
    bobs = SubmissionFactory(team=team_a, submitter=bob, created_at=t0 + timedelta(minutes=5))
    last = SubmissionFactory(team=team_a, submitter=alice, created_at=t0 + timedelta(minutes=9))

    log_in(page, manager)
    page.goto(f"/submissions/{last.pk}/")
    # alice's fourth goes after her first three and bob's one (turns go round people).
    expect(page.locator(".place")).to_contain_text("place 5")
    page.get_by_role("button", name="Move to the front of the team’s line").click()
    expect(page.get_by_text("Moved to the front of the team’s line.")).to_be_visible()
    expect(page.locator(".place")).to_contain_text("place 1 (moved to the front)")
    expect(page.locator(".timeline")).to_contain_text("Moved to the front")
    expect(page.locator(".timeline")).to_contain_text("by maria")
    screenshot(page, "moved-to-the-front")

    page.goto(f"/teams/{team_a.slug}/")
    waiting = page.locator("section[aria-labelledby=waiting] .item .item-head a")
    expect(waiting.first).to_have_text(f"#{last.pk}")
    expect(waiting.nth(2)).to_have_text(f"#{bobs.pk}")  # bob's turn comes second
    expect(page.locator("[data-figure=quota-left]")).to_contain_text("used of 50, 50 left")
    screenshot(page, "team-dashboard-queue")
