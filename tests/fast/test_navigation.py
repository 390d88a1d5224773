"""The navigation marks where the person is; logging out says so."""

import re

import pytest
from django.urls import reverse

from tests.factories import SubmissionFactory

pytestmark = pytest.mark.django_db


def current(page):
    """(the link's words, aria-current) of each marked navigation link."""
    header = page[page.index('<header class="topbar">') : page.index("</header>")]
    return [
        (re.sub(r"<[^>]+>", "", words).strip(), value)
        for value, words in re.findall(r'aria-current="(\w+)"[^>]*>(.*?)</a>', header)
    ]


def test_each_page_marks_its_own_entry(client, alice, manager, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(alice)
    expected = {
        reverse("home"): [("Dashboard", "page")],
        reverse("submission_list"): [("My uploads", "page")],
        submission.get_absolute_url(): [("My uploads", "true")],
        reverse("submission_new"): [("New submission", "page")],
        reverse("batch_new"): [("Submit many", "page")],
        reverse("tokens"): [("Tokens", "page")],
        reverse("person_settings"): [("Settings", "page")],
        reverse("team_dashboard", args=[team_a.slug]): [("Team Alpha", "page")],
    }
    for url, marked in expected.items():
        assert current(client.get(url).content.decode()) == marked, url
    client.force_login(manager)
    page = client.get(reverse("webhook_list", args=[team_a.slug])).content.decode()
    assert current(page) == [("Team Alpha", "true")]


def test_logging_out_says_so_on_the_login_page(client, alice):
    client.force_login(alice)
    response = client.post(reverse("logout"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("login")
    assert "You are logged out, alice." in response.content.decode()
    assert "_auth_user_id" not in client.session
