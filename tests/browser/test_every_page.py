"""Every page of the portal outside the admin (tests/pages.py), in chromium at 1280 and
390 px: no serious or critical axe-core violation, no form control wider than its container
(and no radio button or checkbox stretched beyond its own size), nothing wider than the
phone's screen with every `details` open, and no script or style refused by the Content
Security Policy.
And the admin's submission list shows its status column at 1280 px."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.browsing import DESKTOP, PHONE
from tests.factories import SubmissionFactory
from tests.pages import PAGES, SETTINGS, seed, url_of
from uploads.models import Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Axe()
BLOCKING = {"serious", "critical"}


@pytest.fixture
def people(alice, bob, manager, viewer, superuser, team_a):
    return {"alice": alice, "bob": bob, "manager": manager, "victor": viewer, "root": superuser}


def open_as(browser, live_server, user):
    """A browser context logged in as `user` (None: anonymous), recording CSP refusals.

    The session is made before the page opens: inside Playwright's event loop the ORM
    would open a connection of its own that nothing closes."""
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    if user is not None:
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
        )
    page = context.new_page()
    page.refused = []
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and page.refused.append(message.text)
        ),
    )
    return context, page


def blocking_violations(page):
    results = AXE.run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(str(node["target"]) for node in v["nodes"][:3])
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


def widest(page):
    """The page's width with every details open, and the elements that stick out."""
    return page.evaluate(
        """() => {
            document.querySelectorAll('details').forEach(d => { d.open = true; });
            const limit = window.innerWidth;
            const out = [...document.querySelectorAll('body *')]
              .filter(e => e.getBoundingClientRect().right > limit + 1)
              .slice(0, 5).map(e => e.tagName + '.' + e.className);
            return [document.documentElement.scrollWidth, limit, out];
        }"""
    )


def oversized_controls(page):
    """Form controls that stick out of their container's content box, and radio buttons or
    checkboxes drawn wider than a box is (a stretched one floats away from its words)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter(e => e.type !== 'hidden' && e.getClientRects().length)
            .flatMap(e => {
              const box = e.getBoundingClientRect();
              const name = e.tagName + '[' + (e.name || e.type || '') + ']';
              if (['radio', 'checkbox'].includes(e.type) && box.width > 32) {
                return [name + ' is ' + Math.round(box.width) + ' px wide'];
              }
              const parent = e.parentElement, style = getComputedStyle(parent);
              const inner = parent.getBoundingClientRect().right
                - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
              return box.right > inner + 1 && style.overflowX === 'visible'
                ? [name + ' sticks out of its ' + parent.tagName + ' by '
                   + Math.round(box.right - inner) + ' px'] : [];
            })"""
    )


@pytest.mark.parametrize(
    ("name", "variant", "who"),
    PAGES,
    ids=[f"{name}-{variant or 'page'}-{who}".replace(" ", "_") for name, variant, who in PAGES],
)
def test_the_page_is_accessible_and_fits_a_phone(
    browser, live_server, settings, people, alice, team_a, name, variant, who
):
    for setting, value in SETTINGS.get(variant, {}).items():
        setattr(settings, setting, value)
    by_status, batch = seed(team_a, alice, people["manager"])
    url = url_of(name, variant, by_status, batch, alice, team_a)
    context, page = open_as(browser, live_server, people.get(who))
    try:
        page.goto(url)
        if variant == "with errors":
            page.get_by_role("button", name="Submit").click()
            summary = page.locator("#error-summary")
            summary.wait_for()
            assert page.evaluate("document.activeElement.id") == "error-summary"
        for size in (DESKTOP, PHONE):
            page.set_viewport_size(size)
            violations = blocking_violations(page)
            assert not violations, f"{url} at {size['width']} px: {violations}"
            oversized = oversized_controls(page)
            assert not oversized, f"{url} at {size['width']} px: {oversized}"
        width, limit, out = widest(page)
        assert width <= limit, f"{url} is {width} px wide on a {limit} px phone: {out}"
        assert page.refused == [], page.refused
    finally:
        context.close()


def test_the_admin_submission_list_shows_the_status_column_at_1280(
    browser, live_server, superuser, alice, team_a
):
    # What a real list holds: a longer team name, a full name for a username, the
    # longest status label.
    team_a.name = "Field Operations Marseille"
    team_a.save()
    alice.username = "alexandra.martin-dupont"
    alice.save()
    for i in range(3):
        SubmissionFactory(
            team=team_a,
            submitter=alice,
            status=Status.PARSE_ERROR,
            video_no=f"VI{580000000000 + i}",
            # A signed link: one long word that cannot wrap.
            url=f"https://videos.example.com/v{i}.mp4?token=" + "Zm9vYmFy" * 12,
        )
    context, page = open_as(browser, live_server, superuser)
    try:
        page.goto(reverse("admin:uploads_submission_changelist"))
        page.locator("#result_list td.field-status").first.wait_for()
        # Seen, not merely laid out: inside the scrolled results and left of the filters.
        sticking_out = page.evaluate(
            """() => {
                const results = document.querySelector('#changelist .results');
                const filter = document.querySelector('#changelist-filter');
                const edge = Math.min(
                    results.getBoundingClientRect().right,
                    filter ? filter.getBoundingClientRect().left : Infinity,
                    window.innerWidth);
                return [...document.querySelectorAll(
                        '#result_list th.column-status, #result_list td.field-status')]
                    .map(e => e.getBoundingClientRect().right)
                    .filter(right => right > edge + 1).length;
            }"""
        )
        assert sticking_out == 0
    finally:
        context.close()
