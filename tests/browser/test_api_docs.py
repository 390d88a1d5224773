"""The API's docs page: every operation of the served schema, in the portal's own page,
under the Content Security Policy, with nothing fetched from elsewhere."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_docs_page_shows_every_operation_and_nothing_is_refused(page, live_server):
    violations, elsewhere = [], []
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and violations.append(message.text)
        ),
    )
    page.on(
        "request",
        lambda request: (
            not request.url.startswith(live_server.url)
            and not request.url.startswith("data:")
            and elsewhere.append(request.url)
        ),
    )
    schema = page.request.get(live_server.url + reverse("api:schema")).json()
    operations = sum(
        method in ("get", "post", "put", "patch", "delete")
        for path in schema["paths"].values()
        for method in path
    )
    page.goto(reverse("api:docs"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Memories Portal API")
    expect(page.locator("article.api-operation")).to_have_count(operations)
    assert operations >= 9
    # An operation's answers open, and a shape it names is on the page.
    create = page.locator("#submissions_create")
    create.locator("summary").click()
    expect(create.get_by_text("429", exact=False).first).to_be_visible()
    create.get_by_role("link", name="SubmissionRequest").click()
    expect(page.locator("#shape-SubmissionRequest")).to_be_in_viewport()
    assert violations == []
    assert elsewhere == []  # no CDN, no outside validator
