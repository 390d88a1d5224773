"""Personal access tokens: made on the Tokens page, shown once, stored as a hash, used,
expired, revoked, and dead with their deactivated user; never admin powers."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import SubmissionFactory, bearer
from uploads.models import ApiToken, hash_token

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"


def make_token(client, user, **data):
    client.force_login(user)
    data = {"name": "camera pipeline", "scopes": ["read", "submit"], "expires_in": "30", **data}
    response = client.post(reverse("tokens"), data)
    assert response.status_code == 200
    return response, response.context["secret"]


def test_a_token_is_shown_once_and_only_its_hash_is_stored(client, alice):
    response, secret = make_token(client, alice)
    assert secret.startswith(ApiToken.PREFIX) and secret in response.content.decode()
    token = ApiToken.objects.get()
    assert token.token_hash == hash_token(secret)
    assert secret not in str(ApiToken.objects.values().get())
    assert "no-store" in response["Cache-Control"]
    page = client.get(reverse("tokens")).content.decode()
    assert secret not in page and token.prefix in page and "camera pipeline" in page


def test_a_token_acts_as_its_user_and_records_its_last_use(client, alice):
    _, secret = make_token(client, alice)
    client.logout()
    assert ApiToken.objects.get().last_used_at is None
    response = client.get(ME, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert response.json()["token"]["scopes"] == ["read", "submit"]
    assert ApiToken.objects.get().last_used_at is not None


def test_the_form_needs_a_name_and_a_scope(client, alice):
    client.force_login(alice)
    response = client.post(reverse("tokens"), {"name": "", "expires_in": ""})
    assert response.context["secret"] is None
    assert "Choose what the token may do" in response.content.decode()
    assert not ApiToken.objects.exists()


def unauthorized(client, headers):
    response = client.get(ME, **headers)
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    return response.json()


def test_an_expired_token_is_refused(client, alice):
    headers = bearer(alice, expires_at=timezone.now() + timedelta(minutes=5))
    assert client.get(ME, **headers).status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "expired" in unauthorized(client, headers)["detail"]


def test_a_revoked_token_is_refused_and_only_its_owner_revokes_it(client, alice, bob):
    headers = bearer(alice)
    token = ApiToken.objects.get()
    client.force_login(bob)
    assert client.post(reverse("token_revoke", args=[token.pk])).status_code == 404
    assert client.get(ME, **headers).status_code == 200
    client.force_login(alice)
    assert client.post(reverse("token_revoke", args=[token.pk])).status_code == 302
    assert "revoked" in unauthorized(client, headers)["detail"]


def test_a_deactivated_users_tokens_stop_working(client, alice):
    headers = bearer(alice)
    assert client.get(ME, **headers).status_code == 200
    alice.is_active = False
    alice.save()
    assert "deactivated" in unauthorized(client, headers)["detail"]


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer mpt_unknown", "Basic YWxpY2U6eA==", "Bearer " + "x" * 500],
)
def test_no_token_or_a_wrong_one_is_401(client, authorization):
    unauthorized(client, {"HTTP_AUTHORIZATION": authorization} if authorization else {})


def test_a_read_token_cannot_submit(client, alice, team_a, clip_url):
    headers = bearer(alice, scopes=["read"])
    response = client.post(
        "/api/v1/submissions", {"team": team_a.slug, "url": clip_url},
        content_type="application/json", **headers,
    )  # fmt: skip
    assert response.status_code == 403
    assert "“submit” scope" in response.json()["detail"]


def test_a_superusers_token_has_no_admin_powers(client, superuser, team_a, alice):
    """A token acts within its user's teams: a superuser in no team sees no one's work."""
    theirs = SubmissionFactory(team=team_a, submitter=alice)
    headers = bearer(superuser)
    assert client.get(f"/api/v1/submissions/{theirs.pk}", **headers).status_code == 404
    listed = client.get("/api/v1/submissions?submitter=any", **headers).json()["results"]
    assert listed == []
    client.force_login(superuser)  # the same person, logged in, sees it
    assert client.get(theirs.get_absolute_url()).status_code == 200


def test_superusers_list_and_revoke_any_token_in_the_admin(client, superuser, alice):
    headers = bearer(alice)
    token = ApiToken.objects.get()
    client.force_login(superuser)
    changelist = reverse("admin:uploads_apitoken_changelist")
    assert token.prefix in client.get(changelist).content.decode()
    response = client.post(changelist, {"action": "revoke", "_selected_action": [token.pk]})
    assert response.status_code == 302
    client.logout()
    unauthorized(client, headers)


def test_a_logged_in_session_is_not_a_token(client, alice):
    """No cookie authenticates the API, so no other site can make a browser use it."""
    client.force_login(alice)
    unauthorized(client, {})


def test_a_service_user_gets_a_token_from_the_command_line(client, team_a):
    from io import StringIO

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    out = StringIO()
    arguments = ["--name", "cams", "--service-user", "--team", team_a.slug, "--scope", "submit"]
    call_command("create_api_token", "camera-bot", *arguments, "--scope", "read", stdout=out)
    secret = out.getvalue().strip().splitlines()[-1]
    bot = get_user_model().objects.get(username="camera-bot")
    assert not bot.has_usable_password()
    me = client.get(ME, HTTP_AUTHORIZATION=f"Bearer {secret}").json()
    assert me["username"] == "camera-bot" and me["teams"][0]["slug"] == team_a.slug


def test_revoking_asks_first_and_a_get_changes_nothing(client, alice):
    token, _ = ApiToken.issue(alice, name="nightly", scopes=["read"])
    client.force_login(alice)
    listing = client.get(reverse("tokens")).content.decode()
    assert "Scripts that use it stop working at once" in listing  # the dialog asks
    page = client.get(reverse("token_revoke", args=[token.pk]))
    assert page.status_code == 200
    assert "Yes, revoke it" in page.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None
    client.post(reverse("token_revoke", args=[token.pk]), {"confirmed": "yes"})
    token.refresh_from_db()
    assert token.revoked_at is not None
