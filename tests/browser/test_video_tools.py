"""What people expect of video tools, in a browser: the preview played by the person's own
browser, copy buttons, and the searchable time zone list with the browser's zone first."""

import io
import struct
import threading
import time
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from tests.browsing import DESKTOP, PHONE
from tests.factories import SubmissionFactory
from uploads.views import pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTHS = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])


def a_second_of_sound():
    """A small WAV file: something every browser plays in a <video> without a codec pack."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"".join(struct.pack("<h", (i % 40) * 500) for i in range(8000)))
    return out.getvalue()


@pytest.fixture
def media_server():
    """Serves /tone.wav (playable) and /page.html (not a video) on loopback."""
    files = {
        "/tone.wav": ("audio/wav", a_second_of_sound()),
        "/page.html": ("text/html", b"<html>Watch here</html>"),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            content_type, body = files.get(self.path.split("?")[0], ("text/plain", b"no"))
            self.send_response(200 if self.path.split("?")[0] in files else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def loaded(video):
    return video.evaluate("v => v.readyState") >= 1  # HAVE_METADATA


def wait_until(page, expression, seconds=10):
    """Poll `expression` in the page until it is true (wait_for_function evaluates its
    predicate with eval, which the portal's Content Security Policy refuses)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {seconds} s: {expression}"
        page.wait_for_timeout(100)


PLAYS = "document.querySelector('.preview video').readyState >= 1"


# --- the preview ---------------------------------------------------------------------


@WIDTHS
def test_the_submission_page_plays_the_video_in_the_browser(
    open_page, alice, team_a, media_server, monkeypatch, size
):
    monkeypatch.setattr(pages, "PREVIEW_SOURCES", ["https:", media_server])
    submission = SubmissionFactory(team=team_a, submitter=alice, url=media_server + "/tone.wav")
    page = open_page(alice, size)
    page.goto(submission.get_absolute_url())
    video = page.get_by_label("Preview of the video")
    expect(video).to_be_visible()
    wait_until(page, PLAYS)
    expect(page.locator("[data-preview-note]")).to_be_hidden()
    # The page's live part is swapped in every 3 s; the video is kept as it is.
    page.evaluate(
        "document.querySelector('.preview video').dataset.mark = 'kept';"
        "window.swaps = 0; document.addEventListener('htmx:afterSwap', () => window.swaps++);"
    )
    wait_until(page, "window.swaps >= 1")
    assert page.evaluate("document.querySelector('.preview video').dataset.mark") == "kept"
    wait_until(page, PLAYS)


def test_media_from_plain_http_is_refused_by_the_policy_and_a_quiet_note_says_so(
    open_page, alice, team_a, media_server
):
    submission = SubmissionFactory(team=team_a, submitter=alice, url=media_server + "/tone.wav")
    page = open_page(alice)
    response = page.goto(submission.get_absolute_url())
    policy = response.headers["content-security-policy"]
    assert "media-src 'self' https: blob:" in policy
    note = page.locator("[data-preview-note]")
    expect(note).to_be_visible()
    expect(note).to_contain_text("This browser cannot play it here")
    assert not loaded(page.get_by_label("Preview of the video"))
    expect(page.locator(".message-error")).to_have_count(0)


def test_a_link_that_is_not_a_video_gets_the_quiet_note(
    open_page, alice, team_a, media_server, monkeypatch
):
    monkeypatch.setattr(pages, "PREVIEW_SOURCES", ["https:", media_server])
    submission = SubmissionFactory(team=team_a, submitter=alice, url=media_server + "/page.html")
    page = open_page(alice)
    page.goto(submission.get_absolute_url())
    expect(page.locator("[data-preview-note]")).to_be_visible()


def test_the_form_previews_the_url_as_it_is_typed(
    open_page, alice, team_a, media_server, monkeypatch
):
    monkeypatch.setattr(pages, "PREVIEW_SOURCES", ["https:", media_server])
    page = open_page(alice)
    page.goto("/submissions/new/")
    preview = page.locator("[data-preview]")
    expect(preview).to_be_hidden()
    page.get_by_label("Video URL").fill(media_server + "/tone.wav")
    expect(preview).to_be_visible()
    wait_until(page, PLAYS)
    page.get_by_label("Video URL").fill("ftp://example.com/clip.mp4")
    expect(preview).to_be_hidden()


def test_a_playlist_is_played_by_the_vendored_hls_js(
    open_page, alice, team_a, video_server, monkeypatch
):
    monkeypatch.setattr(pages, "PREVIEW_SOURCES", ["https:", video_server.url])
    page = open_page(alice)
    page.goto("/submissions/new/")
    assert page.evaluate("typeof window.Hls") == "undefined"  # loaded only when needed
    page.get_by_label("Video URL").fill(video_server.url + "/ok.m3u8")
    wait_until(page, "typeof window.Hls === 'function'")
    src = page.evaluate("[...document.scripts].map(s => s.src).join(' ')")
    assert "/static/vendor/hls.js/hls.min.js" in src
    # The playlist's parts are not video: hls.js gives up, and the note says so quietly.
    expect(page.locator("[data-preview-note]")).to_be_visible()


# --- copy buttons --------------------------------------------------------------------


@WIDTHS
def test_a_new_token_is_copied_with_its_button(open_page, alice, size):
    page = open_page(alice, size, permissions=["clipboard-read", "clipboard-write"])
    page.goto("/tokens/")
    page.get_by_label("Name").fill("camera")
    page.get_by_role("button", name="Make the token").click()
    token = page.locator("#new-token").inner_text()
    page.get_by_role("button", name="Copy the token").click()
    expect(page.locator(".copy-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == token


def test_without_the_clipboard_the_text_is_selected_to_copy(open_page, alice, team_a):
    submission = SubmissionFactory(
        team=team_a, submitter=alice, status="processing", video_no="VI554046065381212160"
    )
    page = open_page(alice)
    page.goto(submission.get_absolute_url())
    page.evaluate("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    page.evaluate("document.execCommand = () => false")
    page.get_by_role("button", name="Copy the video number").click()
    expect(page.locator(".copy-status").filter(has_text="press Ctrl+C")).to_be_visible()
    assert page.evaluate("String(window.getSelection())") == "VI554046065381212160"


def test_the_url_is_a_safe_link_and_is_copied(open_page, alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    page = open_page(alice, permissions=["clipboard-read", "clipboard-write"])
    page.goto(submission.get_absolute_url())
    link = page.locator("a:has(#submission-url)")
    expect(link).to_have_attribute("href", submission.url)
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    page.get_by_role("button", name="Copy the URL").click()
    assert page.evaluate("navigator.clipboard.readText()") == submission.url


def test_without_a_script_the_copy_buttons_are_hidden_and_the_text_is_there(
    open_page, alice, team_a
):
    submission = SubmissionFactory(team=team_a, submitter=alice, video_no="VI1")
    page = open_page(alice, java_script_enabled=False)
    page.goto(submission.get_absolute_url())
    expect(page.locator("#video-no")).to_have_text("VI1")
    expect(page.locator("[data-copy]").first).to_be_hidden()


# --- the time zone list --------------------------------------------------------------


@WIDTHS
def test_the_browsers_zone_comes_first_and_the_list_narrows_as_one_types(open_page, alice, size):
    page = open_page(alice, size, zone="Asia/Tokyo")  # no daylight saving: always +09:00
    page.goto("/settings/")
    zone = page.get_by_label("Time zone", exact=True)
    second = zone.locator("option").nth(1)
    expect(second).to_have_attribute("value", "Asia/Tokyo")
    expect(second).to_have_text("UTC+09:00 Asia/Tokyo (this browser’s zone)")
    labels = zone.locator("option").all_inner_texts()
    assert not any(name in " ".join(labels) for name in ("Factory", "localtime", "posixrules"))
    page.get_by_label("Find by city, region or offset").fill("kathmandu")
    assert zone.locator("option").all_inner_texts()[1:] == ["UTC+05:45 Asia/Kathmandu"]
    page.get_by_label("Find by city, region or offset").fill("utc+05:45")
    found = zone.locator("option").all_inner_texts()[1:]
    assert "UTC+05:45 Asia/Kathmandu" in found and all("UTC+05:45" in z for z in found)
    zone.select_option("Asia/Kathmandu")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".message-success")).to_be_visible()
    alice.person_settings.refresh_from_db()
    assert alice.person_settings.time_zone == "Asia/Kathmandu"


def test_without_a_script_the_list_is_there_in_offset_order(open_page, alice):
    page = open_page(alice, java_script_enabled=False)
    page.goto("/settings/")
    expect(page.get_by_label("Find by city, region or offset")).to_be_hidden()
    labels = page.get_by_label("Time zone", exact=True).locator("option").all_inner_texts()
    assert labels[1].startswith("UTC−1") and "UTC+14:00 Pacific/Kiritimati" in labels


# --- the list's bulk actions -----------------------------------------------------------


@WIDTHS
def test_tick_every_waiting_one_on_the_page_then_cancel_them_after_one_question(
    open_page, alice, team_a, size
):
    waiting = [SubmissionFactory(team=team_a, submitter=alice) for _ in range(3)]
    done = SubmissionFactory(team=team_a, submitter=alice, status="parsed")
    page = open_page(alice, size)
    page.goto("/submissions/")
    page.get_by_label("Every waiting one on this page").check()
    for submission in waiting:
        expect(page.get_by_label(f"Select submission #{submission.pk}")).to_be_checked()
    page.get_by_role("button", name="Cancel them").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cancel 3 submissions?")
    page.get_by_role("button", name="Yes, cancel them").click()
    expect(page.locator(".message-success")).to_have_text("Cancelled 3 submissions.")
    for submission in waiting:
        submission.refresh_from_db()
        assert submission.status == "cancelled"
    done.refresh_from_db()
    assert done.status == "parsed"
