"""Browser protections: Content Security Policy, framing, referrer, on the site and the admin."""

import re

import pytest
from django.http import HttpResponse
from django.template import engines
from django.test import override_settings
from django.urls import path, reverse

from tests.factories import SubmissionFactory
from uploads.models import Event, UploadGate

pytestmark = pytest.mark.django_db

SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def policy(response):
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_protected(response):
    csp = policy(response)
    assert "'self'" in csp["script-src"]
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "'unsafe-inline'" not in csp["default-src"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def assert_no_inline_script(response):
    """Every script is a file, a JSON data block, or carries the page's nonce."""
    html = response.content.decode()
    nonces = [v for v in policy(response)["script-src"] if v.startswith("'nonce-")]
    for attributes in SCRIPT_TAG.findall(html):
        if "src=" in attributes or 'type="application/json"' in attributes:
            continue
        nonce = re.search(r'nonce="([^"]+)"', attributes)
        assert nonce and f"'nonce-{nonce[1]}'" in nonces, f"inline script: <script{attributes}>"
    assert not EVENT_HANDLER.search(html), "inline event handler"
    assert "javascript:" not in html


def test_the_login_page_is_protected(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert_protected(response)
    assert_no_inline_script(response)


def test_the_callback_and_health_answers_carry_the_headers_too(client):
    assert_protected(client.get("/healthz"))
    assert_protected(client.get("/healthz/workers"))
    assert_protected(client.post(reverse("memories_callback", args=["x" * 43])))
    assert_protected(client.get(reverse("api:me")))  # a 401 problem


@pytest.mark.parametrize(
    "page", ["submission_list", "submission_new", "detail", "tokens", "api:docs"]
)
def test_the_portals_pages_have_no_inline_script(client, alice, team_a, page):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(alice)
    url = submission.get_absolute_url() if page == "detail" else reverse(page)
    response = client.get(url)
    assert response.status_code == 200
    assert_protected(response)
    assert_no_inline_script(response)


def admin_urls(submission, team):
    return [
        reverse("admin:index"),
        reverse("admin:login"),
        reverse("admin:uploads_submission_changelist"),
        reverse("admin:uploads_submission_change", args=[submission.pk]),
        reverse("admin:uploads_team_add"),
        reverse("admin:uploads_team_change", args=[team.pk]),
        reverse("admin:uploads_uploadgate_changelist"),
        reverse("admin:uploads_uploadgate_change", args=[UploadGate.get().pk]),
        reverse("admin:uploads_memoriesaccount_changelist"),
        reverse("admin:uploads_memoriesaccount_change", args=[team.account_id]),
        reverse("admin:auth_user_add"),
        reverse("admin:django_tasks_database_dbtaskresult_changelist"),
        reverse("admin:axes_accessattempt_changelist"),
    ]


def test_the_admin_works_under_the_policy(client, superuser, alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    submission.record(Event.Kind.CREATED, "Submitted.", actor=alice)
    UploadGate.get()
    client.force_login(superuser)
    for url in admin_urls(submission, team_a):
        response = client.get(url)
        assert response.status_code in (200, 302), url
        if response.status_code == 200:
            assert_protected(response)
            assert_no_inline_script(response)


def nonce_page(request):
    template = engines["django"].from_string(
        '<script nonce="{{ csp_nonce }}">document.title = "ok";</script>'
    )
    return HttpResponse(template.render({}, request))


urlpatterns = [path("nonce/", nonce_page)]


@override_settings(ROOT_URLCONF=__name__)
def test_an_inline_script_runs_with_the_requests_nonce(client):
    response = client.get("/nonce/")
    nonce = re.search(r'nonce="([^"]+)"', response.content.decode())[1]
    assert f"'nonce-{nonce}'" in policy(response)["script-src"]
    assert_no_inline_script(response)
    assert client.get("/nonce/")["Content-Security-Policy"] != response["Content-Security-Policy"]
