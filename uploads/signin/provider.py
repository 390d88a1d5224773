"""The company's OpenID Connect provider, as django-allauth's, with what it leaves out.

allauth's own provider sends no `nonce` and so cannot check one: here each authorization
request carries a fresh nonce, kept in the request's state, which the ID token must
repeat (adapters.PortalSocialAccountAdapter checks it). The process is always a login
(allauth would also take "connect" or "redirect" from the query string).
"""

from allauth.socialaccount.providers.base import AuthProcess
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.utils.crypto import get_random_string

NONCE_LENGTH = 32


class CompanyAdapter(OpenIDConnectOAuth2Adapter):
    def complete_login(self, request, app, token, **kwargs):
        login = super().complete_login(request, app, token, **kwargs)
        # Kept for logging out at the provider too (id_token_hint), with where to go.
        login.raw_id_token = kwargs["response"].get("id_token", "")
        login.end_session_endpoint = self.openid_config.get("end_session_endpoint", "")
        return login


class CompanyProvider(OpenIDConnectProvider):
    oauth2_adapter_class = CompanyAdapter

    def extract_uid(self, data):
        """Who the person is: the ID token's `sub`, which userinfo must repeat (OpenID
        Connect Core 5.3.2); never an email, nor a `uid_field` setting."""
        subject = str((data.get("id_token") or {}).get("sub") or "")
        userinfo = data.get("userinfo") or {}
        if not subject or ("sub" in userinfo and str(userinfo["sub"]) != subject):
            raise OAuth2Error("The ID token and userinfo name different people.")
        return subject

    def redirect(self, request, process, next_url=None, data=None, **kwargs):
        nonce = get_random_string(NONCE_LENGTH)
        auth_params = kwargs.pop("auth_params", None) or self.get_auth_params()
        auth_params["nonce"] = nonce
        return super().redirect(
            request, AuthProcess.LOGIN, next_url, data,
            auth_params=auth_params, nonce=nonce, **kwargs,
        )  # fmt: skip


provider_classes = [CompanyProvider]
