"""Browser tests: Playwright's sync API driving Debian's chromium against Django's live server.

Playwright's sync API runs an event loop in the test's thread; Django refuses
database calls from a thread with a running loop unless told it is safe. Here
it is: the test thread only seeds data and waits. What the tests share besides
these fixtures is in tests/browsing.py.
"""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browsing import DESKTOP, signed_in_page

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
# Two shared cores: leave slow moments some room before an expectation fails.
expect.set_options(timeout=10_000)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP, accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def open_page(browser, live_server):
    """open_page(user, size=DESKTOP, zone="UTC", **context_options): a page at that size
    (and browser time zone), signed in through the login form; closed after the test."""
    contexts = []

    def open_page(user, size=DESKTOP, zone="UTC", **options):
        context, page = signed_in_page(browser, live_server.url, user, size, zone, **options)
        contexts.append(context)
        return page

    yield open_page
    for context in contexts:
        context.close()
