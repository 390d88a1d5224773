import pytest
from playwright.sync_api import expect

from tests.browsing import PASSWORD, log_in, screenshot, with_password

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_logs_in_and_lands_on_their_dashboard(page, alice, team_a):
    page.goto("/")
    expect(page).to_have_url("/accounts/login/?next=/")
    screenshot(page, "login")
    log_in(page, alice)
    expect(page.get_by_role("heading", level=1)).to_have_text("My dashboard")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Alpha")).to_have_attribute("href", "/teams/alpha/")


def test_a_wrong_password_is_refused_with_the_username_kept(page, alice):
    with_password(alice)
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD + "x")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".error-summary")).to_contain_text("correct username and password")
    expect(page.get_by_label("Username")).to_have_value("alice")
