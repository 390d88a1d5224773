"""Every view outside the admin is either a page the browser checks walk (tests/pages.py)
or named there as not a page, with the reason: a new page cannot escape the checks."""

from tests.pages import NOT_PAGES, PAGES, portal_views


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
