"""Signing in with the company's identity provider, against a real OpenID Connect
provider in this process (tests/oidc.py): who is let in, matched by what, and what their
groups give them."""

from io import StringIO
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory, bearer
from tests.oidc import Provider, use_provider
from uploads.models import GroupMapping, Membership

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture(scope="module")
def provider():
    with Provider() as running:
        yield running


@pytest.fixture
def sso(settings, provider):
    use_provider(settings, provider)
    return provider


@pytest.fixture
def mapped(team_a, team_b):
    """Two groups of the directory that the portal knows."""
    GroupMapping.objects.create(group="alpha-crew", team=team_a, role=Membership.Role.MEMBER)
    GroupMapping.objects.create(group="alpha-leads", team=team_a, role=Membership.Role.MANAGER)
    GroupMapping.objects.create(group="bravo-watch", team=team_b, role=Membership.Role.VIEWER)


def signed_in_user(client):
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def roles_of(user):
    return dict(user.memberships.values_list("team__slug", "role"))


# --- the flow, and who a person is -------------------------------------------------


def test_a_person_in_a_mapped_group_signs_in_and_gets_the_team(client, sso, mapped, team_a):
    sso.set_claims("sub-ana", {"email": "ana@example.com", "groups": ["alpha-crew"],
                               "preferred_username": "ana"})  # fmt: skip
    response = sso.sign_in(client, "sub-ana")
    assert response.status_code == 302 and response["Location"] == reverse("home")
    ana = signed_in_user(client)
    assert ana.email == "ana@example.com"
    assert SocialAccount.objects.get(user=ana).uid == "sub-ana"
    assert roles_of(ana) == {team_a.slug: Membership.Role.MEMBER}
    assert ana.memberships.get().source == Membership.Source.GROUPS
    assert client.get(reverse("team_dashboard", args=[team_a.slug])).status_code == 200


def test_the_same_sub_with_a_changed_email_is_the_same_person(client, sso, mapped):
    sso.set_claims("sub-ben", {"email": "ben@old.example.com", "groups": ["alpha-crew"]})
    sso.sign_in(client, "sub-ben")
    ben = signed_in_user(client)
    client.logout()
    sso.set_claims("sub-ben", {"email": "ben@new.example.com", "groups": ["alpha-crew"]})
    sso.sign_in(client, "sub-ben")
    assert signed_in_user(client) == ben
    ben.refresh_from_db()
    assert ben.email == "ben@new.example.com"
    assert User.objects.filter(socialaccount__isnull=False).count() == 1


def test_an_email_alone_matches_no_one(client, sso, mapped, alice):
    """A new sub with alice's email is a new person, never alice."""
    alice.email = "alice@example.com"
    alice.save()
    sso.set_claims("sub-stranger", {"email": "alice@example.com", "email_verified": True,
                                    "groups": ["alpha-crew"],
                                    "preferred_username": "alice"})  # fmt: skip
    response = sso.sign_in(client, "sub-stranger")
    assert response.status_code == 302
    stranger = signed_in_user(client)
    assert stranger is not None and stranger != alice
    assert stranger.username != "alice"
    assert not SocialAccount.objects.filter(user=alice).exists()


# --- refusals ------------------------------------------------------------------------


def test_a_person_whose_groups_map_to_nothing_is_not_let_in_nor_made(client, sso, mapped):
    sso.set_claims("sub-nobody", {"email": "nobody@example.com", "groups": ["cafeteria"]})
    response = sso.sign_in(client, "sub-nobody")
    assert response.status_code == 403
    assert "none of your groups gives you a team" in response.content.decode()
    assert signed_in_user(client) is None
    assert not User.objects.filter(email="nobody@example.com").exists()


def test_a_deactivated_person_is_refused(client, sso, mapped):
    sso.set_claims("sub-dora", {"email": "dora@example.com", "groups": ["alpha-crew"]})
    sso.sign_in(client, "sub-dora")
    dora = signed_in_user(client)
    headers = bearer(dora)
    client.logout()
    User.objects.filter(pk=dora.pk).update(is_active=False)
    response = sso.sign_in(client, "sub-dora")
    assert response.status_code == 403 and "deactivated" in response.content.decode()
    assert signed_in_user(client) is None
    assert client.get(reverse("api:me"), **headers).status_code == 401


def test_the_provider_refusing_the_sign_in_lets_no_one_in(client, sso, mapped):
    start = client.post(reverse("openid_connect_login", args=["company"]))
    back = requests.post(
        start["Location"], data={"action": "deny"}, allow_redirects=False, timeout=5
    ).headers["Location"]
    parts = urlsplit(back)
    response = client.get(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})
    assert response.status_code == 401
    assert "did not sign you in" in response.content.decode()
    assert "Log in with a password" in response.content.decode()
    assert signed_in_user(client) is None


@pytest.mark.parametrize(
    ("claims", "what"),
    [
        ({"aud": "another-application"}, "an ID token for another application"),
        ({"exp": 1_000_000_000}, "an expired ID token (2001)"),
        ({"nonce": "not-this-sign-ins"}, "another sign-in's nonce"),
        ({"iss": "http://localhost:1"}, "another issuer"),
    ],
)
def test_an_id_token_that_fails_a_check_lets_no_one_in(client, sso, mapped, claims, what):
    sso.set_claims("sub-eve", {"email": "eve@example.com", "groups": ["alpha-crew"], **claims})
    response = sso.sign_in(client, "sub-eve")
    assert response.status_code == 401, what
    assert "could not be checked" in response.content.decode(), what
    assert signed_in_user(client) is None, what
    assert not User.objects.filter(email="eve@example.com").exists(), what


def test_a_state_that_is_not_this_browsers_lets_no_one_in(client, sso, mapped):
    sso.set_claims("sub-eve", {"email": "eve@example.com", "groups": ["alpha-crew"]})

    def forged(url):
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["state"] = "a-state-from-elsewhere"
        return parts._replace(query=urlencode(query)).geturl()

    response = sso.sign_in(client, "sub-eve", tamper=forged)
    assert response.status_code == 401
    assert signed_in_user(client) is None


def test_a_callback_in_another_browser_lets_no_one_in(client, sso, mapped):
    """The code and state of someone else's sign-in, brought to a fresh session."""
    sso.set_claims("sub-eve", {"email": "eve@example.com", "groups": ["alpha-crew"]})
    start = client.post(reverse("openid_connect_login", args=["company"]))
    back = urlsplit(sso.authorize(start["Location"], "sub-eve"))
    other = Client()
    response = other.get(back.path, {k: v[0] for k, v in parse_qs(back.query).items()})
    assert response.status_code == 401
    assert "_auth_user_id" not in other.session


def test_the_provider_down_says_so_and_offers_the_local_login(client, settings, mapped):
    use_provider(settings, "http://127.0.0.1:9")  # nothing listens on the discard port
    response = client.post(reverse("openid_connect_login", args=["company"]))
    assert response.status_code == 503
    page = response.content.decode()
    assert "Example SSO is not answering" in page
    assert reverse("login") in page and "password" in page


def test_the_provider_down_with_oidc_only_offers_no_password(client, settings, mapped):
    use_provider(settings, "http://127.0.0.1:9", only=True)
    response = client.post(reverse("openid_connect_login", args=["company"]))
    assert response.status_code == 503
    assert "Log in with a password" not in response.content.decode()


# --- groups to teams and roles ---------------------------------------------------------


def test_each_sign_in_brings_the_memberships_in_line_with_the_groups(
    client, sso, mapped, team_a, team_b
):
    sso.set_claims("sub-gil", {"email": "gil@example.com", "groups": ["alpha-crew"]})
    sso.sign_in(client, "sub-gil")
    gil = signed_in_user(client)
    assert roles_of(gil) == {team_a.slug: "member"}
    client.logout()
    # Promoted, and added to Bravo's watchers.
    sso.set_claims("sub-gil", {"email": "gil@example.com",
                               "groups": ["alpha-crew", "alpha-leads", "bravo-watch"]})  # fmt: skip
    sso.sign_in(client, "sub-gil")
    assert roles_of(gil) == {team_a.slug: "manager", team_b.slug: "viewer"}
    client.logout()
    # Out of Alpha's groups: out of Alpha.
    sso.set_claims("sub-gil", {"email": "gil@example.com", "groups": ["bravo-watch"]})
    sso.sign_in(client, "sub-gil")
    assert roles_of(gil) == {team_b.slug: "viewer"}
    history = list(
        LogEntry.objects.filter(user=gil)
        .order_by("pk")
        .values_list("action_flag", "change_message")
    )
    assert [flag for flag, _ in history] == [ADDITION, CHANGE, ADDITION, DELETION]
    assert "member → manager (group “alpha-leads”)" in history[1][1]


def test_losing_every_mapped_group_loses_access_at_the_next_sign_in(client, sso, mapped, team_a):
    sso.set_claims("sub-hal", {"email": "hal@example.com", "groups": ["alpha-crew"]})
    sso.sign_in(client, "sub-hal")
    hal = signed_in_user(client)
    client.logout()
    sso.set_claims("sub-hal", {"email": "hal@example.com", "groups": []})
    response = sso.sign_in(client, "sub-hal")
    assert response.status_code == 403
    assert signed_in_user(client) is None
    assert not hal.memberships.exists()


def test_memberships_made_by_hand_stay_unless_the_groups_are_authoritative(
    client, settings, sso, mapped, team_a, team_b
):
    sso.set_claims("sub-ivy", {"email": "ivy@example.com", "groups": ["alpha-crew"]})
    sso.sign_in(client, "sub-ivy")
    ivy = signed_in_user(client)
    Membership.objects.create(user=ivy, team=team_b, role=Membership.Role.MANAGER)  # by hand
    client.logout()
    sso.set_claims("sub-ivy", {"email": "ivy@example.com", "groups": ["alpha-crew"]})
    sso.sign_in(client, "sub-ivy")
    assert roles_of(ivy) == {team_a.slug: "member", team_b.slug: "manager"}
    client.logout()
    settings.OIDC_GROUPS_ARE_AUTHORITATIVE = True
    sso.sign_in(client, "sub-ivy")
    assert roles_of(ivy) == {team_a.slug: "member"}


def test_a_hand_made_membership_keeps_its_role_unless_the_groups_are_authoritative(
    client, settings, sso, mapped, team_b
):
    """bravo-watch says viewer; the manager made by hand stays a manager."""
    jo = UserFactory(username="jo")
    Membership.objects.create(user=jo, team=team_b, role=Membership.Role.MANAGER)
    SocialAccount.objects.create(user=jo, provider="company", uid="sub-jo")
    sso.set_claims("sub-jo", {"email": "jo@example.com", "groups": ["bravo-watch"]})
    sso.sign_in(client, "sub-jo")
    assert signed_in_user(client) == jo
    assert roles_of(jo) == {team_b.slug: "manager"}
    client.logout()
    settings.OIDC_GROUPS_ARE_AUTHORITATIVE = True
    sso.sign_in(client, "sub-jo")
    assert roles_of(jo) == {team_b.slug: "viewer"}
    assert jo.memberships.get().source == Membership.Source.GROUPS


# --- keeping the mappings ----------------------------------------------------------------


def test_map_group_adds_changes_and_removes_a_mapping(team_a):
    out = StringIO()
    call_command("map_group", "alpha-crew", team=team_a.slug, role="viewer", stdout=out)
    call_command("map_group", "alpha-crew", team=team_a.slug, role="member", stdout=out)
    assert list(GroupMapping.objects.values_list("group", "team__slug", "role")) == [
        ("alpha-crew", team_a.slug, "member")
    ]
    assert "now gives Viewer (read only) in Alpha" in out.getvalue()
    call_command("map_group", "alpha-crew", team=team_a.slug, role="member", remove=True,
                 stdout=out)  # fmt: skip
    assert not GroupMapping.objects.exists()
    with pytest.raises(CommandError, match="No team with the slug “nope”"):
        call_command("map_group", "alpha-crew", team="nope", role="member")


def test_superusers_keep_the_mappings_in_the_admin(client, superuser, team_a):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:uploads_groupmapping_add"),
        {"group": "alpha-crew", "team": team_a.pk, "role": "viewer"},
    )
    assert response.status_code == 302
    assert GroupMapping.objects.get().role == "viewer"
    assert client.get(reverse("admin:uploads_groupmapping_changelist")).status_code == 200


# --- the login page, OIDC_ONLY, the break-glass login and logging out ----------------------


def test_without_a_provider_the_login_page_is_as_it_was(client, alice):
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with" not in page and 'name="password"' in page
    alice.set_password("pw-for-tests-123")
    alice.save()
    client.post(reverse("login"), {"username": "alice", "password": "pw-for-tests-123"})
    assert signed_in_user(client) == alice


def test_with_a_provider_the_login_page_offers_both(client, sso, alice):
    page = client.get(reverse("login") + "?next=/submissions/").content.decode()
    assert "Sign in with Example SSO" in page and 'name="password"' in page
    assert "/accounts/oidc/company/login/?next=/submissions/" in page


def test_oidc_only_offers_the_provider_alone_and_refuses_passwords(client, settings, sso, alice):
    use_provider(settings, sso, only=True)
    alice.set_password("pw-for-tests-123")
    alice.save()
    page = client.get(reverse("login")).content.decode()
    assert "Sign in with Example SSO" in page and 'name="password"' not in page
    response = client.post(reverse("login"), {"username": "alice", "password": "pw-for-tests-123"})
    assert response.status_code == 403
    assert "Passwords are not used here" in response.content.decode()
    assert signed_in_user(client) is None


def test_oidc_only_still_lets_a_superuser_in_through_the_admin_login(
    client, settings, sso, superuser, alice
):
    use_provider(settings, sso, only=True)
    for person in (superuser, alice):
        person.set_password("pw-for-tests-123")
        person.save()
    client.post(reverse("admin:login"), {"username": "alice", "password": "pw-for-tests-123"})
    assert signed_in_user(client) is None  # the admin's login is for superusers only
    response = client.post(
        reverse("admin:login"), {"username": "root", "password": "pw-for-tests-123"}
    )
    assert response.status_code == 302 and signed_in_user(client) == superuser
    assert client.get(reverse("home")).status_code == 200


def test_logging_out_ends_the_session_at_the_provider_too(client, sso, mapped):
    sso.set_claims("sub-kim", {"email": "kim@example.com", "groups": ["alpha-crew"]})
    sso.sign_in(client, "sub-kim")
    response = client.post(reverse("logout"))
    assert signed_in_user(client) is None
    assert response.status_code == 302
    where = urlsplit(response["Location"])
    assert f"{where.scheme}://{where.netloc}{where.path}" == sso.url + "/oauth2/end_session"
    query = parse_qs(where.query)
    assert query["post_logout_redirect_uri"] == ["http://testserver" + reverse("login")]
    assert query["id_token_hint"][0].count(".") == 2  # the ID token, a JWT
    # The provider's page to confirm ending its session there.
    assert requests.get(response["Location"], timeout=5).status_code == 200


def test_a_local_logout_stays_local(client, alice):
    client.force_login(alice)
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert signed_in_user(client) is None


def test_the_provider_going_down_during_a_sign_in_says_so(client, settings, mapped):
    with Provider() as brief:
        use_provider(settings, brief)
        brief.set_claims("sub-lou", {"email": "lou@example.com", "groups": ["alpha-crew"]})
        start = client.post(reverse("openid_connect_login", args=["company"]))
        back = urlsplit(brief.authorize(start["Location"], "sub-lou"))
    # Gone before the portal asks it for the tokens.
    response = client.get(back.path, {k: v[0] for k, v in parse_qs(back.query).items()})
    assert response.status_code == 503
    assert "Example SSO is not answering" in response.content.decode()
    assert signed_in_user(client) is None


def test_the_admin_leaves_out_allauths_applications_and_tokens(client, superuser):
    client.force_login(superuser)
    index = client.get(reverse("admin:index")).content.decode()
    assert "Social accounts" in index
    assert "Social applications" not in index and "Social application tokens" not in index


def test_the_person_is_the_id_tokens_sub_which_userinfo_must_repeat(rf, sso):
    from allauth.socialaccount.adapter import get_adapter
    from allauth.socialaccount.providers.oauth2.client import OAuth2Error

    provider = get_adapter().get_provider(rf.get("/"), "company")
    assert provider.extract_uid({"id_token": {"sub": "a"}, "userinfo": {"sub": "a"}}) == "a"
    assert provider.extract_uid({"id_token": {"sub": "a"}, "userinfo": {"email": "x@y"}}) == "a"
    for data in (
        {"id_token": {"sub": "a"}, "userinfo": {"sub": "b"}},  # two different people
        {"userinfo": {"sub": "a", "email": "a@example.com"}},  # no ID token: no one
    ):
        with pytest.raises(OAuth2Error):
            provider.extract_uid(data)
