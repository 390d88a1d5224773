"""Submitting through the form, and watching the status change without reloading."""

import pytest
from playwright.sync_api import expect

from tests.browsing import log_in, screenshot
from uploads.models import Submission

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_invalid_form_shows_each_error_beside_its_field_and_keeps_what_was_typed(
    page, alice, team_a
):
    log_in(page, alice)
    page.get_by_role("link", name="New submission").click()
    page.get_by_label("Video URL").fill("ftp://videos.example.com/clip.mp4")
    page.get_by_label("Camera model").fill("Canon EOS 5D")
    page.get_by_label("Latitude").fill("91")
    page.get_by_label("Tags").fill("beach, sunset")
    page.get_by_role("button", name="Submit").click()

    url_field = page.locator(".field", has=page.get_by_label("Video URL"))
    expect(url_field.locator(".error")).to_be_visible()
    latitude_field = page.locator(".field", has=page.get_by_label("Latitude"))
    expect(latitude_field.locator(".error")).to_have_text("Latitude must be between −90 and 90.")
    longitude_field = page.locator(".field", has=page.get_by_label("Longitude"))
    expect(longitude_field.locator(".error")).to_have_text(
        "Give both latitude and longitude, or neither."
    )
    expect(page.get_by_label("Video URL")).to_have_value("ftp://videos.example.com/clip.mp4")
    expect(page.get_by_label("Camera model")).to_have_value("Canon EOS 5D")
    expect(page.get_by_label("Tags")).to_have_value("beach, sunset")
    assert not Submission.objects.exists()
    screenshot(page, "form-with-errors")


def test_a_submissions_page_turns_done_everywhere_without_reloading(
    page, alice, team_a, sandbox, settings, live_server, start_worker, clip_url
):
    settings.PUBLIC_BASE_URL = live_server.url
    log_in(page, alice)
    page.goto("/submissions/new/")
    page.get_by_label("Video URL").fill(clip_url)
    page.get_by_role("button", name="Submit").click()
    submission = Submission.objects.get()
    expect(page).to_have_url(submission.get_absolute_url())
    badge = page.locator(f"#live-status-{submission.pk} .badge")
    expect(badge).to_have_text("Waiting")

    # Nothing has sent it yet: the page now polls; a worker starts and sends it.
    page.evaluate("window.stillTheSamePage = true")
    start_worker()
    expect(badge).to_have_text("Done", timeout=20_000)
    assert page.evaluate("window.stillTheSamePage") is True
    # Every part that changed changed with the badge: memories.ai's status, the timeline.
    expect(page.locator("[data-fact=api-status]")).to_have_text("PARSE")
    expect(page.locator(".timeline li").last).to_contain_text("Done")
    assert page.evaluate("window.stillTheSamePage") is True
    submission.refresh_from_db()
    assert submission.api_status == "PARSE"
    # Once it is final, the part that asked for itself is swapped for one that does not.
    expect(page.locator("#submission-body")).not_to_have_attribute("hx-trigger", "every 3s")
    # Nothing on the page still says it waits: that was said in the part that changed.
    expect(page.locator("main")).not_to_contain_text("waits for its turn")
    screenshot(page, "submission-detail")
