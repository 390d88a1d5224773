"""django-allauth's provider settings for the company's sign-in, from the portal's own
(memories_portal/settings.py reads them from the environment; the tests point them at a
provider of their own). Plain data: settings import this before Django is set up."""

PROVIDER_ID = "company"


def socialaccount_providers(*, issuer, client_id, secret, name, scopes):
    """SOCIALACCOUNT_PROVIDERS: one OpenID Connect app, or none without an issuer."""
    app = {
        "provider_id": PROVIDER_ID,
        "name": name,
        "client_id": client_id,
        "secret": secret,
        "settings": {"server_url": issuer, "scope": list(scopes)},
    }
    return {"openid_connect": {"APPS": [app] if issuer else [], "OAUTH_PKCE_ENABLED": True}}
