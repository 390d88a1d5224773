"""The API's docs page: Swagger UI from the vendored files, under the Content Security
Policy, with every operation of the served schema shown."""

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
    page.goto(reverse("api:docs"))
    expect(page.get_by_text("Memories Portal API").first).to_be_visible()
    expect(page.locator(".opblock")).to_have_count(9)
    page.locator(".opblock-summary").first.click()  # an operation opens
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert violations == []
    assert elsewhere == []  # no CDN, no outside validator
