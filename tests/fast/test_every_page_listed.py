"""Every view outside the admin is either a page the browser checks walk (tests/pages.py)
or named there as not a page, with the reason: a new page cannot escape the checks. And
every listed page renders for the person who looks at it, with the data it shows."""

import pytest

from tests.pages import NOT_PAGES, PAGES, SETTINGS, STATUS, portal_views, seed, url_of


def test_every_view_is_a_checked_page_or_named_as_not_a_page():
    pages = {name for name, _, _ in PAGES}
    unlisted = portal_views() - pages - set(NOT_PAGES)
    assert not unlisted, (
        f"add {sorted(unlisted)} to PAGES in tests/pages.py (checked in a browser for "
        "accessibility and phone width), or to NOT_PAGES with the reason"
    )


def test_the_lists_name_only_views_that_exist():
    pages = {name for name, _, _ in PAGES}
    assert not (pages | set(NOT_PAGES)) - portal_views()
    assert not pages & set(NOT_PAGES)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "variant", "who"),
    PAGES,
    ids=[f"{name}-{variant or 'page'}-{who}".replace(" ", "_") for name, variant, who in PAGES],
)
def test_every_page_renders_for_its_viewer(
    client, settings, alice, bob, manager, viewer, superuser, team_a, name, variant, who
):
    for setting, value in SETTINGS.get(variant, {}).items():
        setattr(settings, setting, value)
    by_status, batch = seed(team_a, alice, manager)
    people = {"alice": alice, "bob": bob, "manager": manager, "victor": viewer, "root": superuser}
    if who != "anonymous":
        client.force_login(people[who])
    url = url_of(name, variant, by_status, batch, alice, team_a)
    if variant == "with errors":
        response = client.post(url, {"url": ""})
        assert 'id="error-summary"' in response.content.decode()
    else:
        response = client.get(url)
    assert response.status_code == STATUS.get(variant, 200), (url, response.status_code)
    assert response["Content-Type"].startswith("text/html")
