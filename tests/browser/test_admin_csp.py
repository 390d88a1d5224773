"""The admin's scripts run under the Content Security Policy, in a real browser."""

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import SubmissionFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def submissions(alice, team_a):
    return SubmissionFactory.create_batch(3, team=team_a, submitter=alice)


@pytest.fixture
def admin_page(browser, live_server, superuser, client, submissions):
    """A logged-in superuser's page that records Content Security Policy violations.

    The database is set up before the page opens: inside Playwright's event loop
    the ORM would open a connection of its own that nothing closes."""
    client.force_login(superuser)
    context = browser.new_context(base_url=live_server.url)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.violations = []

    def note_violation(message):
        if "Content Security Policy" in message.text:
            page.violations.append(message.text)

    page.on("console", note_violation)
    yield page
    context.close()


def test_admin_scripts_run_and_nothing_is_refused(admin_page):
    page = admin_page
    page.goto(reverse("admin:uploads_submission_changelist"))
    page.click("#action-toggle")  # actions.js: select every row
    assert page.locator("input.action-select:checked").count() == 3

    page.goto(reverse("admin:uploads_team_add"))
    page.locator("#id_name").press_sequentially("Night Shift")  # prepopulate.js: the slug
    assert page.input_value("#id_slug") == "night-shift"

    for name in ["admin:index", "admin:uploads_uploadgate_changelist", "admin:auth_user_add"]:
        page.goto(reverse(name))
    page.goto(reverse("submission_new"))
    assert page.violations == []
