"""Error pages with DEBUG off: the portal's own 404, 400 and 500, never Django's bare text."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import SubmissionFactory

pytestmark = pytest.mark.django_db

STYLED = "css/portal.css"


def test_a_missing_page_is_the_portals_own_404(client, alice, settings):
    settings.DEBUG = False
    client.force_login(alice)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "This page is not here" in page and STYLED in page
    assert 'href="/submissions/"' in page  # a way on
    assert "<h1>Not Found</h1>" not in page


def test_another_teams_submission_is_the_same_404(client, outsider, alice, team_a, settings):
    settings.DEBUG = False
    submission = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(outsider)
    response = client.get(submission.get_absolute_url())
    assert response.status_code == 404
    assert "This page is not here" in response.content.decode()


def test_a_request_django_refuses_is_the_portals_own_400(settings):
    settings.DEBUG = False
    response = Client().get("/", HTTP_HOST="not-this-portal.example")  # DisallowedHost
    assert response.status_code == 400
    page = response.content.decode()
    assert "The portal could not understand this request" in page and STYLED in page


def test_a_failure_is_the_portals_own_500_without_the_database(alice, settings, monkeypatch):
    settings.DEBUG = False

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("uploads.views.pages.stats.figures", broken)
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    response = client.get(reverse("home"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side" in page and STYLED in page
