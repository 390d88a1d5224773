"""What the pages do in a browser, at desktop and phone width: confirmations in a dialog,
Submit again, the error summary, the browser's zone on the Settings page, the period
selector and the paused banner."""

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browsing import DESKTOP, PHONE
from tests.factories import SubmissionFactory
from uploads.models import ApiToken, Batch, Status, UploadGate, WebhookEndpoint

CLIP = "https://videos.example.com/clip.mp4"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])


@WIDTHS
def test_cancel_asks_in_a_dialog_then_submit_again_fills_the_form(open_page, alice, team_a, size):
    submission = SubmissionFactory(team=team_a, submitter=alice, camera_model="GoPro 12")
    page = open_page(alice, size)
    page.goto(submission.get_absolute_url())
    cancel = page.get_by_role("link", name="Cancel this submission")
    expect(cancel).to_have_class("button button-secondary")
    cancel.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Keep it as it is").click()
    expect(dialog).to_be_hidden()
    submission.refresh_from_db()
    assert submission.status == Status.QUEUED

    cancel.click()
    dialog.get_by_role("button", name="Yes, cancel it").click()
    expect(page.locator(f"#live-status-{submission.pk} .badge")).to_have_text("Cancelled")
    page.get_by_role("link", name="Submit again").click()
    expect(page.get_by_label("Video URL")).to_have_value(submission.url)
    expect(page.get_by_label("Camera model")).to_have_value("GoPro 12")


def test_an_administrator_resends_from_the_submission_page(open_page, superuser, alice, team_a):
    submission = SubmissionFactory(
        team=team_a, submitter=alice, status=Status.NEEDS_REVIEW, error_code="0504"
    )
    page = open_page(superuser)
    page.goto(submission.get_absolute_url())
    expect(page.locator(".problem-panel")).to_contain_text("What to do next:")
    page.get_by_role("link", name="Resend").click()
    page.get_by_role("dialog").get_by_role("button", name="Send it again").click()
    expect(page.locator(f"#live-status-{submission.pk} .badge")).to_have_text("Waiting")
    submission.refresh_from_db()
    assert submission.status == Status.QUEUED


@WIDTHS
def test_after_a_form_error_focus_is_on_a_summary_that_links_to_each_field(
    open_page, alice, team_a, size
):
    page = open_page(alice, size)
    page.goto("/submissions/new/")
    page.get_by_label("Video URL").fill("ftp://videos.example.com/clip.mp4")
    page.get_by_label("Latitude").fill("91")
    page.get_by_role("button", name="Submit").click()
    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    summary.get_by_role("link", name="Latitude: Latitude must be between −90 and 90.").click()
    expect(page.get_by_label("Latitude")).to_be_focused()
    # The skip link is the first thing a keyboard reaches.
    page.goto("/submissions/new/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()


def test_the_settings_page_offers_the_browsers_zone_and_times_follow_it(open_page, alice, team_a):
    submission = SubmissionFactory(
        team=team_a, submitter=alice, created_at=datetime(2026, 1, 15, 13, 5, tzinfo=UTC)
    )
    page = open_page(alice, zone="Europe/Paris")
    page.goto(submission.get_absolute_url())
    expect(page.locator(".facts")).to_contain_text("2026-01-15 13:05:00 UTC")
    page.goto("/settings/")
    page.get_by_role("button", name="Use this browser’s zone (Europe/Paris)").click()
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Paris")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your settings are saved.")).to_be_visible()
    page.goto(submission.get_absolute_url())
    expect(page.locator(".facts")).to_contain_text("2026-01-15 14:05:00 CET")


@WIDTHS
def test_the_period_selector_changes_the_chart_and_the_banner_tells_of_a_pause(
    open_page, alice, team_a, size
):
    SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    UploadGate.get()
    UploadGate.objects.update(paused=True, paused_reason="No credits left.")
    page = open_page(alice, size)
    banner = page.get_by_role("status").filter(has_text="are paused")
    expect(banner).to_have_text(
        "Uploads through the account “default” are paused; your place is kept."
    )
    page.get_by_role("navigation", name="Period").get_by_role("link", name="7 days").click()
    expect(page.get_by_role("img", name="Submissions per day, last 7 days")).to_be_visible()
    expect(page.locator("[data-figure=period-before]")).to_contain_text("The 7 days before:")


# --- what a first week found ---------------------------------------------------------


def queued_batch(person, team, waiting=2):
    batch = Batch.objects.create(
        created_by=person, source="pasted", state=Batch.State.QUEUED, row_count=waiting
    )
    for n in range(waiting):
        SubmissionFactory(team=team, submitter=person, batch=batch, url=f"{CLIP}?{n}")
    return batch


@WIDTHS
def test_cancelling_a_batchs_waiting_submissions_asks_first(open_page, alice, team_a, size):
    batch = queued_batch(alice, team_a)
    page = open_page(alice, size)
    page.goto(batch.get_absolute_url())
    cancel = page.get_by_role("link", name="Cancel the 2 waiting")
    expect(cancel).to_have_class("button button-secondary")
    cancel.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Cancel the 2 waiting submissions of this batch?")
    # The batch's progress polls; the question stays open through its turns.
    page.evaluate(
        "window.turns = 0; document.body.addEventListener("
        "'htmx:beforeRequest', () => { window.turns += 1; })"
    )
    page.wait_for_function("() => window.turns >= 2", timeout=15_000)
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Keep it as it is").click()
    expect(dialog).to_be_hidden()
    assert not Batch.objects.filter(pk=batch.pk, cancel_requested_at__isnull=False).exists()
    cancel.click()
    dialog.get_by_role("button", name="Yes, cancel them").click()
    expect(page.locator(".message-success")).to_have_text(
        "Cancelling the 2 waiting submissions of this batch."
    )


def background(page, locator):
    return locator.evaluate("e => getComputedStyle(e).backgroundColor")


def test_secondary_buttons_look_secondary_and_deleting_looks_dangerous(open_page, manager, team_a):
    endpoint = WebhookEndpoint.objects.create(team=team_a, url="https://hooks.example.com/in")
    page = open_page(manager)
    page.goto(endpoint.get_absolute_url())
    primary = background(page, page.get_by_role("button", name="Send a test event"))
    secondary = background(page, page.get_by_role("button", name="Disable"))
    danger = background(page, page.get_by_role("link", name="Delete"))
    assert primary == "rgb(36, 86, 201)"  # --accent
    assert secondary == "rgb(236, 239, 243)"  # --idle-bg
    assert danger == "rgb(179, 38, 30)"  # --bad
    page.get_by_role("link", name="Delete").click()
    answer = page.get_by_role("dialog").get_by_role("button", name="Yes, delete it")
    assert background(page, answer) == danger


@WIDTHS
def test_radio_buttons_sit_beside_their_words(open_page, alice, team_a, size):
    page = open_page(alice, size)
    page.goto("/settings/")
    radios = page.get_by_role("radio")
    expect(radios).to_have_count(3)
    for radio in radios.all():
        box = radio.bounding_box()
        words = radio.locator("xpath=..").bounding_box()  # its label
        assert box["width"] < 32, box
        assert words["x"] - 1 <= box["x"] <= words["x"] + 8  # at the start of its line
        assert words["y"] - 1 <= box["y"] <= words["y"] + words["height"]  # on it


def test_on_a_phone_the_tokens_table_keeps_its_labels_and_times_stay_whole(
    open_page, alice, team_a
):
    ApiToken.issue(alice, name="camera pipeline", scopes=["read", "submit"])
    page = open_page(alice, PHONE)
    page.goto("/tokens/")
    row = page.locator("table.list tbody tr").first
    labels = row.locator("td").evaluate_all(
        "cells => cells.map(c => getComputedStyle(c, '::before').content)"
    )
    assert labels[:7] == [
        '"Name: "', '"Starts with: "', '"Scopes: "', '"Made: "', '"Expires: "',
        '"Last used: "', '"State: "',
    ]  # fmt: skip
    made = row.locator("td[data-label=Made] time")
    assert made.evaluate("t => t.getClientRects().length") == 1  # one line, not wrapped


def test_a_long_url_breaks_between_its_parts_on_a_phone_never_mid_word(open_page, alice, team_a):
    url = "https://videos.example.com/" + "a-long-path-segment/" * 6 + "clip.mp4?token=abc"
    submission = SubmissionFactory(team=team_a, submitter=alice, url=url)
    page = open_page(alice, PHONE)
    page.goto(submission.get_absolute_url())
    # The last character of each line but the last: where the address was broken.
    ends = page.locator(".facts dd.url #submission-url").evaluate(
        """dd => {
            const range = document.createRange(), ends = [];
            let top = null, last = '';
            const walker = document.createTreeWalker(dd, NodeFilter.SHOW_TEXT);
            for (let node; (node = walker.nextNode());) {
              for (let i = 0; i < node.length; i++) {
                range.setStart(node, i); range.setEnd(node, i + 1);
                const y = range.getBoundingClientRect().top;
                if (top !== null && y > top + 2) ends.push(last);
                top = y; last = node.data[i];
              }
            }
            return ends;
        }"""
    )
    assert ends, "the address fits one line: make it longer"
    # After a slash (its <wbr>), or where a browser breaks text anyway (a hyphen, "?").
    assert set(ends) <= {"/", "-", "?", "=", "&"}, ends


# How many lines a cell's text takes: its range has one rectangle per line box.
LINES = """td => {
    const range = document.createRange();
    range.selectNodeContents(td);
    return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
}"""


def test_beside_a_long_address_the_other_cells_keep_their_words_whole(open_page, manager, team_a):
    WebhookEndpoint.objects.create(
        team=team_a, url="https://hooks.example.com/" + "portal/" * 12, topics=["submission.failed"]
    )
    page = open_page(manager)
    page.goto(f"/teams/{team_a.slug}/webhooks/")
    row = page.locator("table.list tbody tr").first
    # One word each: broken, they would take two lines ("submission.faile", "d").
    assert row.locator("td[data-label=Events]").evaluate(LINES) == 1
    assert row.locator("td[data-label=State]").evaluate(LINES) == 1
    assert row.locator("td[data-label=URL]").evaluate(LINES) >= 2  # the address gives way
