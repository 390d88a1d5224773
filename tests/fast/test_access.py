"""Who may see what: every view needs a login but the named few, and the admin is
for superusers only. The URL configuration is walked, so a new view cannot slip in
unprotected."""

import re
from urllib.parse import urlsplit

import pytest
from django.urls import resolve, reverse

from tests.factories import UserFactory
from tests.isolation import url_patterns

pytestmark = pytest.mark.django_db

# Views an anonymous GET may reach, and what they answer.
PUBLIC = {
    "login": {200},
    "admin:login": {200},
    "logout": {405},  # POST only
    "memories_callback": {405},  # POST only, its token is its authentication
    "healthz": {200, 503},
    # The company's sign-in: no provider is named "1" (nor configured here). (The
    # button's view is POST only: a GET goes back to the login page.)
    "openid_connect_callback": {404},
    "healthz_workers": {200, 503},
    "metrics": {403},  # from an address not allowed, without the token
}
# Views that answer anonymous users with an empty body instead of a redirect: the
# live-status and batch-progress fragments tell htmx to stop polling (286) rather
# than swap a login page into the page. They show nothing.
EMPTY_FOR_ANONYMOUS = {"submission_statuses": 286, "batch_progress": 286}
# --- notifications: the unsubscribe link needs no login (its signed token is the proof);
# a forged token is refused with a reason.
PUBLIC["unsubscribe"] = {400}
# ---

# Redirects of anonymous users that go elsewhere than a login page, and where.
# (The admin sends an anonymous logout to its index, which asks for the login.)
REDIRECTS = {"admin:logout": "admin:index"}
# The API (/api/v1/) takes a token, never a session: without one, 401 as problem+json.
# Its schema and docs page describe it and show no data: public; other paths are 404.
API_PUBLIC = {"api:schema": {200}, "api:docs": {200}, "api:not_found": {404}}
NAMED_GROUP = re.compile(r"\(\?P<(\w+)>([^()]*)\)")
WORD_ALTERNATIVES = re.compile(r"\w+(\|\w+)*")


def _example(match):
    """A value for one URL parameter: the first of listed words, else "1"."""
    body = match.group(2)
    return body.split("|")[0] if WORD_ALTERNATIVES.fullmatch(body) else "1"


def example_path(regex):
    """A path the regex matches, with dummy values for its parameters."""
    path = NAMED_GROUP.sub(_example, regex)
    path = path.removesuffix("\\Z").removesuffix("$")
    return "/" + re.sub(r"\\(.)", r"\1", path)


ALL_VIEWS = [
    pytest.param(example_path(regex), name, pattern, id=f"{name} {example_path(regex)}")
    for regex, name, pattern in url_patterns()
]


def test_the_walk_finds_the_views_it_must():
    names = {name for _, name, _ in url_patterns()}
    assert {"submission_detail", "memories_callback", "admin:uploads_submission_change"} <= names
    assert {"submission_move_to_front", "batch_move_to_front"} <= names
    assert {"api:submission", "api:batch_confirm", "tokens"} <= names
    assert len(ALL_VIEWS) > 40


@pytest.mark.parametrize(("path", "name", "pattern"), ALL_VIEWS)
def test_every_view_needs_a_login_except_the_public_few(client, path, name, pattern):
    # The dummy path reaches the very view being checked.
    assert resolve(path).func is pattern.callback, path
    response = client.get(path)
    if name in PUBLIC:
        assert response.status_code in PUBLIC[name], (path, response.status_code)
        return
    if name in API_PUBLIC:
        assert response.status_code in API_PUBLIC[name], (path, response.status_code)
        return
    if name.startswith("api:"):
        assert response.status_code == 401, (path, response.status_code)
        assert response["Content-Type"] == "application/problem+json", path
        return
    if name in EMPTY_FOR_ANONYMOUS:
        assert response.status_code == EMPTY_FOR_ANONYMOUS[name], (path, response.status_code)
        assert response.content == b"", path
        return
    assert response.status_code == 302, (path, response.status_code)
    login = "admin:login" if name.startswith("admin:") else "login"
    assert urlsplit(response.url).path == reverse(REDIRECTS.get(name, login)), (path, response.url)


# --- the admin -------------------------------------------------------------------


@pytest.fixture
def staff(db):
    """Staff, but not a superuser: before the portal, enough for parts of the admin."""
    from django.contrib.auth.models import Permission

    user = UserFactory(username="stella", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="uploads"))
    return user


@pytest.mark.parametrize(
    "url_name", ["admin:index", "admin:uploads_submission_changelist", "admin:auth_user_changelist"]
)
def test_staff_without_superuser_rights_get_no_admin_page(client, staff, url_name):
    client.force_login(staff)
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert urlsplit(response.url).path == reverse("admin:login")


def test_staff_without_superuser_rights_cannot_log_in_to_the_admin(client, staff):
    staff.set_password("pw-for-tests-123")
    staff.save()
    response = client.post(
        reverse("admin:login"), {"username": "stella", "password": "pw-for-tests-123"}
    )
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_superuser_uses_the_admin(client, superuser):
    client.force_login(superuser)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:uploads_submission_changelist")).status_code == 200


def test_the_admin_link_is_shown_to_superusers_only(client, staff, superuser):
    client.force_login(staff)
    assert reverse("admin:index") not in client.get(reverse("submission_list")).content.decode()
    client.force_login(superuser)
    assert reverse("admin:index") in client.get(reverse("submission_list")).content.decode()
