"""The API's docs page: descriptions' markdown rendered (and escaped), the token sentence
once, and a request example for every operation."""

import html
import json
import re

import pytest
from django.urls import reverse

from uploads.api.docs import prose

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(client):
    return client.get(reverse("api:docs")).content.decode()


def test_no_raw_markdown_is_shown(page):
    text = re.sub(r"<[^>]+>", "", page)
    assert "* `" not in text and "`" not in text
    assert "<li><code>queued</code>: Waiting</li>" in page
    # An enum whose label only repeats its value is not said twice.
    assert "<li><code>-date</code></li>" in page


def test_the_token_header_is_told_once(page):
    assert page.count("Authorization: Bearer &lt;token&gt;") == 1


def test_every_operation_has_a_request_example_that_names_this_portal(page):
    operations = re.findall(r'<article class="card api-operation" id="([^"]+)"', page)
    examples = re.findall(r'<pre class="api-example"[^>]*><code>(.*?)</code></pre>', page, re.S)
    assert len(operations) >= 9 and len(examples) == len(operations)
    assert all('"http://testserver/api/v1/' in html.unescape(e) for e in examples)
    create = html.unescape(examples[operations.index("submissions_create")])
    assert create.startswith('curl -X POST "http://testserver/api/v1/submissions"')
    body = json.loads(re.search(r"-d '(.*)'", create).group(1))
    assert set(body) == {"team", "url"}  # the required fields


def test_prose_escapes_what_is_not_its_few_forms():
    rendered = prose("Say <b>hi</b> with `<code>` and **care**:\n\n* `a` - A\n* plain")
    assert rendered == (
        "<p>Say &lt;b&gt;hi&lt;/b&gt; with <code>&lt;code&gt;</code> and "
        "<strong>care</strong>:</p>"
        '<ul class="api-list"><li><code>a</code>: A</li><li>plain</li></ul>'
    )
