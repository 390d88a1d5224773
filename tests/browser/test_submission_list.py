"""Filtering the list and exporting the selection as CSV, in a browser (and without JavaScript)."""

import csv
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browsing import DESKTOP, log_in, screenshot
from tests.factories import SubmissionFactory
from uploads.models import Status, Submission

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def submissions(alice, bob, team_a, outsider, team_b):
    now = timezone.now()
    for i in range(6):
        SubmissionFactory(
            team=team_a,
            submitter=alice if i % 2 else bob,
            status=[Status.PARSED, Status.FAILED, Status.QUEUED][i % 3],
            tags=["beach"] if i < 3 else ["city"],
            camera_model="=cmd|' /C calc'!A0" if i == 4 else "GoPro",
            error_message="The URL answered 404." if i % 3 == 1 else "",
            created_at=now - timedelta(hours=i),
        )
    SubmissionFactory(team=team_b, submitter=outsider, status=Status.FAILED)


def test_filtering_the_list_and_exporting_what_it_shows(page, alice, submissions, tmp_path):
    log_in(page, alice)
    page.get_by_role("link", name="My uploads").click()
    expect(page.locator("table.list tbody tr")).to_have_count(3)
    page.get_by_label("Submitted by").select_option(label="Anyone in my teams")
    page.get_by_label("Status").select_option(label="Failed")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"submitter=any&.*status=failed"))
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.locator(".badge")).to_have_text(["Failed", "Failed"])
    expect(page.get_by_label("Status")).to_have_value("failed")  # the form keeps the filter
    screenshot(page, "list")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("submissions-")
    path = tmp_path / "export.csv"
    download.save_as(path)
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [row["status"] for row in rows] == ["Failed", "Failed"]
    assert {row["team"] for row in rows} == {"Alpha"}
    assert rows[1]["camera model"] == "'=cmd|' /C calc'!A0"  # defused, not a formula


def test_the_list_filters_work_without_javascript(browser, live_server, alice, submissions):
    context = browser.new_context(
        base_url=live_server.url, viewport=DESKTOP, java_script_enabled=False
    )
    page = context.new_page()
    try:
        log_in(page, alice)
        page.goto("/submissions/")
        page.get_by_label("Submitted by").select_option(label="Anyone in my teams")
        page.get_by_label("Tag").fill("city")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("table.list tbody tr")).to_have_count(3)
        page.get_by_role("link", name="Submitted ↓").click()  # now oldest first
        oldest = Submission.objects.filter(team__slug="alpha").order_by("created_at").first()
        first_cell = page.locator("table.list tbody tr").first.locator('td[data-label="#"]')
        expect(first_cell).to_have_text(str(oldest.pk))
        assert "tag=city" in page.url and "sort=date" in page.url
    finally:
        context.close()
