"""Team isolation checks, for every view that shows, changes or exports submissions.

    assert_hidden(client, outsider, url)             # a page about one submission: 404
    assert_hidden(client, outsider, url, method="post", data={...})
    assert_not_listed(client, outsider, url, [submission, ...])  # a listing or export

404, not 403: a user of another team learns nothing, not even that it exists.

And the viewer's refusals (tests/fast/test_viewer.py): a viewer knows the submission is
there, so what they may not change answers 403 with the reason (404 where the whole page
is a manager's or an administrator's):

    assert_refused_to_viewer(client, viewer, url, method="post", data={...}, status=403)
    assert_api_refused_to_viewer(client, headers, url, method="post", data={...})
"""

import json

from django.urls import URLResolver, get_resolver


def _content(response):
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def assert_hidden(client, user, url, *, method="get", data=None):
    client.force_login(user)
    response = getattr(client, method)(url, data or {})
    assert response.status_code == 404, (
        f"{method.upper()} {url} answered {response.status_code} to {user}, "
        "who is not in the submission's team"
    )
    return response


def assert_api_hidden(client, headers, url, *, method="get"):
    """The API's 404 for another team's object (`headers`: a token of a user outside it)."""
    response = getattr(client, method)(url, **headers)
    assert response.status_code == 404, f"{method.upper()} {url} answered {response.status_code}"
    assert response["Content-Type"] == "application/problem+json"
    return response


def assert_refused_to_viewer(client, user, url, *, method="get", data=None, status):
    client.force_login(user)
    response = getattr(client, method)(url, data or {})
    assert response.status_code == status, (
        f"{method.upper()} {url} answered {response.status_code} to {user}, a viewer"
    )
    return response


def assert_api_refused_to_viewer(client, headers, url, *, method="post", data=None):
    body = json.dumps(data or {})
    response = getattr(client, method)(url, body, content_type="application/json", **headers)
    assert response.status_code == 403, f"{method.upper()} {url} answered {response.status_code}"
    assert response["Content-Type"] == "application/problem+json"
    return response


def assert_not_listed(client, user, url, submissions, *, data=None):
    client.force_login(user)
    response = client.get(url, data or {})
    assert response.status_code == 200, f"GET {url} answered {response.status_code}"
    content = _content(response)
    for submission in submissions:
        assert submission.url not in content, f"GET {url} shows {submission} to {user}"
        assert submission.get_absolute_url() not in content, (
            f"GET {url} links to {submission} for {user}"
        )
    return response


def url_patterns(patterns=None, prefix="", namespace=""):
    """(full regex, name with namespace, pattern) for every view in the configuration."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for pattern in patterns:
        regex = prefix + pattern.pattern.regex.pattern.lstrip("^")
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from url_patterns(pattern.url_patterns, regex, inner)
        else:
            name = f"{namespace}{pattern.name}" if pattern.name else f"{namespace}<unnamed>"
            yield regex, name, pattern
