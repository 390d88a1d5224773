"""Submit many in a browser: paste a list or upload a CSV, watch the rows checked, download the
refused ones, queue the rest and see the batch finish (sandbox and both workers)."""

import csv

import pytest
from playwright.sync_api import expect

from tests.browsing import log_in, screenshot
from uploads.models import Batch, Status, Submission
from uploads.tasks import BATCH_QUEUE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def portal(settings, live_server, sandbox, start_worker):
    """The sender's worker and the batches worker, sending to the sandbox."""
    settings.PUBLIC_BASE_URL = live_server.url
    start_worker()
    return start_worker


@pytest.fixture
def slow_links(video_server):
    """Each link answers after 0.4 s: the check of a batch takes long enough to watch."""
    video_server.delay = 0.4
    yield video_server
    video_server.delay = 0.0


def progress_value(page):
    return int(page.get_by_role("progressbar").get_attribute("aria-valuenow"))


def test_paste_a_list_watch_the_checks_queue_it_and_see_it_finish(
    page, alice, team_a, portal, slow_links
):
    portal(queue=BATCH_QUEUE, BATCH_CHECK_CONCURRENCY=1)
    urls = [f"{slow_links.url}/clip.mp4?take={n}" for n in range(9)]
    urls.append(f"{slow_links.url}/page.html")
    log_in(page, alice)
    page.get_by_role("link", name="Submit many", exact=True).click()
    page.get_by_label("URLs, one a line").fill("\n".join(urls))
    page.get_by_label("Tags").fill("archive, 2025")
    page.get_by_role("button", name="Check these URLs").click()
    batch = Batch.objects.get()
    expect(page).to_have_url(batch.get_absolute_url())
    bar = page.get_by_role("progressbar", name="Rows checked")
    expect(bar).to_have_attribute("aria-valuemax", "10")

    # The bar moves while the rows are checked, one at a time, without reloading.
    page.evaluate("window.stillTheSamePage = true")
    page.wait_for_function(
        "() => { const v = +document.querySelector('[role=progressbar]')"
        ".getAttribute('aria-valuenow'); return v > 0 && v < 10; }",
        timeout=30_000,
    )
    assert page.evaluate("window.stillTheSamePage") is True
    # Once checked, the page reloads itself with what can be done now.
    button = page.get_by_role("button", name="Queue 9 rows; 1 refused")
    expect(button).to_be_visible(timeout=30_000)
    expect(page.locator("#line-10 .why")).to_contain_text("looks like a web page")
    assert not Submission.objects.exists()
    screenshot(page, "batch-checked")

    slow_links.delay = 0.0
    button.click()
    expect(page.locator(".message-success")).to_have_text("Queued 9 submissions.")
    finished = page.get_by_role("progressbar", name="Submissions finished")
    expect(finished).to_have_attribute("aria-valuenow", "9", timeout=60_000)
    expect(page.locator(".count-done strong")).to_have_text("9")
    assert set(Submission.objects.values_list("status", flat=True)) == {Status.PARSED}
    assert set(tuple(tags) for tags in Submission.objects.values_list("tags", flat=True)) == {
        ("archive", "2025")
    }
    expect(page.locator("#batch-progress")).not_to_have_attribute("hx-trigger", "every 2s")
    page.reload()
    screenshot(page, "batch-finished")


def test_upload_a_csv_download_the_refused_rows_and_queue_the_rest(
    page, alice, team_a, portal, video_server, tmp_path
):
    portal(queue=BATCH_QUEUE)
    good = f"{video_server.url}/clip.mp4"
    upload = tmp_path / "archive.csv"
    upload.write_text(
        "\ufeffurl;latitude;longitude;tags\n"
        f"{good};48,8566;2,3522;harbour\n"
        f"{good}?2;91;2,35;\n"
        f"{video_server.url}/page.html;;;\n"
        f"{video_server.url}/missing.mp4;;;\n",
        encoding="utf-8",
    )
    log_in(page, alice)
    page.goto("/batches/new/")
    page.get_by_label("Or a CSV file").set_input_files(upload)
    page.get_by_role("button", name="Check these URLs").click()
    button = page.get_by_role("button", name="Queue 1 row; 2 refused")
    expect(button).to_be_visible(timeout=30_000)
    expect(page.locator("#line-3 .why")).to_contain_text("Latitude must be between −90 and 90.")
    expect(page.locator("#line-4 .why")).to_contain_text("looks like a web page")
    expect(page.locator("#line-5 .why")).to_contain_text("404")
    screenshot(page, "batch-csv-checked")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the rows to fix (CSV)").click()
    path = tmp_path / "to-fix.csv"
    download_info.value.save_as(path)
    with path.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert [row["url"] for row in rows] == [
        f"{good}?2", f"{video_server.url}/page.html", f"{video_server.url}/missing.mp4",
    ]  # fmt: skip
    assert rows[0]["latitude"] == "91" and "between −90 and 90" in rows[0]["problem"]

    # The link that could not be reached is confirmed public, for the whole batch.
    # The button counts what it will queue with the box ticked, and queues that.
    page.get_by_label("queue it too").check()
    expect(button).not_to_be_attached()
    page.get_by_role("button", name="Queue 2 rows; 2 refused").click()
    expect(page.locator(".message-success")).to_have_text("Queued 2 submissions.")
    finished = page.get_by_role("progressbar", name="Submissions finished")
    expect(finished).to_have_attribute("aria-valuenow", "2", timeout=60_000)
    # Once queued, the check's note is history: the row says what became of it.
    expect(page.locator("#line-5 .why")).not_to_contain_text("404")
    missing = Submission.objects.get(url__endswith="/missing.mp4")
    assert missing.confirm_public is True
    assert str(Submission.objects.get(url=good).latitude) == "48.8566000"


def test_a_paste_too_large_for_the_request_says_so_beside_the_field(
    page, alice, team_a, settings, clip_url
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5_000
    log_in(page, alice)
    page.goto("/batches/new/")
    page.get_by_label("URLs, one a line").fill("\n".join([clip_url] * 200))
    page.get_by_role("button", name="Check these URLs").click()
    field = page.locator(".field", has=page.get_by_label("URLs, one a line"))
    expect(field.locator(".error")).to_contain_text("The pasted text is larger than 5 KB")
    assert not Batch.objects.exists()
    screenshot(page, "submit-many-too-large")
