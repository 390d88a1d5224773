"""A real OpenID Connect provider for the tests: oidc-provider-mock, on a free loopback
port in a thread of the test process (discovery, keys, authorize, token, userinfo and
end_session, as a provider serves them), and the portal's settings that point at it.

    with Provider() as provider:
        use_provider(settings, provider)
        provider.set_claims("sub-1", {"email": "ana@example.com", "groups": ["field-ops"]})
        response = provider.sign_in(client, "sub-1")   # the whole redirect flow

Any claim can be set, the ID token's own too (`aud`, `exp`, `nonce`, `iss`): the provider
writes the person's claims over the ones it makes.
"""

import os
from urllib.parse import parse_qs, urlsplit

import requests
from django.urls import reverse
from oidc_provider_mock import run_server_in_thread

from uploads.signin.config import socialaccount_providers

CLIENT_ID = "memories-portal"
CLIENT_SECRET = "a-client-secret-for-tests"


class Provider:
    def __init__(self):
        self.url = None
        self._server = None

    def __enter__(self):
        # The provider refuses plain HTTP unless told: loopback is all the tests use.
        os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
        self._server = run_server_in_thread(port=0)
        server = self._server.__enter__()
        self.url = f"http://localhost:{server.server_port}"
        return self

    def __exit__(self, *exc):
        return self._server.__exit__(*exc)

    def set_claims(self, sub, claims):
        response = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=5)
        response.raise_for_status()

    def authorize(self, authorize_url, sub):
        """The person signs in at the provider: where it sends the browser back to."""
        response = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=5)
        assert response.status_code == 302, (response.status_code, response.text[:500])
        return response.headers["Location"]

    def sign_in(self, client, sub, *, tamper=None):
        """The whole flow with the Django test client: the login page's button, the
        provider's authorize, and the callback (which asks the provider for the tokens).
        `tamper(callback_url)`: the URL the browser comes back to, changed by the test."""
        start = client.post(reverse("openid_connect_login", args=["company"]))
        assert start.status_code == 302, (start.status_code, start.content[:500])
        back = self.authorize(start["Location"], sub)
        if tamper:
            back = tamper(back)
        parts = urlsplit(back)
        return client.get(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})


def provider_settings(issuer, *, only=False, client_id=CLIENT_ID):
    """The settings that configure the company's sign-in (as memories_portal/settings.py
    makes them from OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET)."""
    return {
        "OIDC_ENABLED": True,
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": client_id,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_ONLY": only,
        "OIDC_PROVIDER_NAME": "Example SSO",
        "SOCIALACCOUNT_PROVIDERS": socialaccount_providers(
            issuer=issuer,
            client_id=client_id,
            secret=CLIENT_SECRET,
            name="Example SSO",
            scopes=["openid", "profile", "email"],
        ),
    }


def use_provider(settings, provider, **kwargs):
    """Point the portal at the provider (`settings`: pytest-django's fixture)."""
    url = provider if isinstance(provider, str) else provider.url
    for name, value in provider_settings(url, **kwargs).items():
        setattr(settings, name, value)
