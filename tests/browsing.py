"""What browser tests share: the sizes they look at, signing in through the login page,
and screenshots for a person to look at. (The fixtures that start chromium are in
tests/browser/conftest.py.)"""

from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import expect

SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
PASSWORD = "a-long-test-password-42"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def with_password(user):
    user.set_password(PASSWORD)
    user.save()
    return user


def fill_login(page, user):
    """Give the login page `user`'s real password (set here) and press Log in."""
    with_password(user)
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def log_in(page, user):
    """Through the login page, with the real password, onto the dashboard."""
    fill_login(page, user)
    page.wait_for_url(lambda url: urlsplit(url).path == "/")  # the dashboard


def signed_in_page(browser, base_url, user, size=DESKTOP, zone="UTC", **options):
    """A new browser context at `size` (and browser time zone), signed in as `user` through
    the login page: (context, page)."""
    context = browser.new_context(base_url=base_url, viewport=size, timezone_id=zone, **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    fill_login(page, user)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    return context, page


def screenshot(page, name):
    """Full-page screenshots at desktop and phone width, for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    page.set_viewport_size(DESKTOP)
