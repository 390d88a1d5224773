"""The whole redirect flow in chromium: the portal's login page, the provider's page (a
real OpenID Connect provider in this process, tests/oidc.py), back to the portal signed
in with the team the group gives, then out of both."""

import pytest
from playwright.sync_api import expect

from tests.oidc import Provider, use_provider
from uploads.models import GroupMapping, Membership

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sso(settings):
    with Provider() as provider:
        use_provider(settings, provider)
        # The button's POST and the logout are answered with redirects to the provider.
        settings.SECURE_CSP = {
            **settings.SECURE_CSP,
            "form-action": [*settings.SECURE_CSP["form-action"], provider.url],
        }
        yield provider


def test_a_person_signs_in_at_the_provider_and_out_of_both(page, sso, team_a):
    GroupMapping.objects.create(group="alpha-crew", team=team_a, role=Membership.Role.VIEWER)
    sso.set_claims("sub-nina", {"email": "nina@example.com", "preferred_username": "nina",
                                "groups": ["alpha-crew"]})  # fmt: skip
    page.goto("/submissions/")
    page.get_by_role("button", name="Sign in with Example SSO").click()
    # The provider's own page: who to sign in as.
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
    page.get_by_label("Subject").fill("sub-nina")
    page.get_by_role("button", name="Authorize", exact=True).click()
    expect(page).to_have_url("/submissions/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Alpha")).to_be_visible()
    # A viewer: no way to submit offered.
    expect(page.get_by_role("link", name="New submission")).to_have_count(0)
    page.get_by_role("button", name="Log out nina").click()
    # The provider's end of session, then back to the portal's login page.
    page.get_by_role("button", name="End session").click()
    expect(page).to_have_url("/accounts/login/")
    page.goto("/")
    expect(page).to_have_url("/accounts/login/?next=/")


def test_a_person_whose_groups_give_no_team_is_told_so(page, sso, team_a):
    sso.set_claims("sub-olga", {"email": "olga@example.com", "groups": ["cafeteria"]})
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in with Example SSO").click()
    page.get_by_label("Subject").fill("sub-olga")
    page.get_by_role("button", name="Authorize", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("none of your groups gives you a team")
    expect(page.get_by_role("link", name="Log in with a password of the portal")).to_be_visible()
