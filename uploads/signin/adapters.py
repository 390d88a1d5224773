"""Who may sign in with the company's provider, and what their groups give them.

A person is their provider's `sub` (allauth's SocialAccount), never their email: a new
`sub` is a new person even if the email is someone's already, and a known `sub` stays
the same person when the email changes (the email is updated). Someone whose groups map
to no team of the portal, and who has no membership made by hand, is not let in (nor
made a user); a deactivated user is refused. Every sign-in brings the memberships in
line with the groups claim (groups.sync).
"""

import logging

import requests
from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.utils.crypto import constant_time_compare

from . import groups as group_sync
from .views import LOGOUT_KEY, provider_down, refused

logger = logging.getLogger(__name__)

NO_TEAM = (
    "You signed in, but none of your groups gives you a team in the portal. Ask your "
    "manager to add you to a group the portal knows, then sign in again."
)
NOT_CHECKED = (
    "The sign-in could not be checked, so it was not accepted. Start again from the "
    "login page; if it keeps happening, tell an administrator."
)


class PortalAccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        # Local sign-up does not exist; a person comes from the provider (or the admin).
        return False

    def respond_user_inactive(self, request, user):
        return refused(request, "Your account in the portal is deactivated.")


class PortalSocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin):
        return True

    def is_auto_signup_allowed(self, request, sociallogin):
        # Never the sign-up form: an email already used (say by a local user) makes a new
        # person rather than a question, since people are matched by `sub` alone.
        return True

    def pre_social_login(self, request, sociallogin):
        claims = sociallogin.account.extra_data
        id_token = claims.get("id_token") or {}
        self._check_id_token(request, sociallogin, id_token)
        groups = group_sync.groups_in(claims)
        sociallogin.groups = groups
        user = sociallogin.user
        if sociallogin.is_existing:
            if not user.is_active:
                raise ImmediateHttpResponse(
                    refused(request, "Your account in the portal is deactivated.")
                )
            self._update_email(user, claims)
            group_sync.sync(user, groups)
            if not (user.is_superuser or user.memberships.exists()):
                raise ImmediateHttpResponse(refused(request, NO_TEAM))
        elif not group_sync.wanted_roles(groups):
            raise ImmediateHttpResponse(refused(request, NO_TEAM))
        request.session[LOGOUT_KEY] = {
            "id_token": getattr(sociallogin, "raw_id_token", ""),
            "end_session_endpoint": getattr(sociallogin, "end_session_endpoint", ""),
        }

    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form)
        group_sync.sync(user, sociallogin.groups)
        return user

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ):
        logger.warning("sign-in with the identity provider failed: %s %r", error, exception)
        if isinstance(exception, requests.RequestException):
            raise ImmediateHttpResponse(provider_down(request))
        if error == "cancelled":
            reason = (
                f"{settings.OIDC_PROVIDER_NAME} did not sign you in (it was cancelled or refused)."
            )
        else:
            reason = NOT_CHECKED
        raise ImmediateHttpResponse(refused(request, reason, status=401))

    def _check_id_token(self, request, sociallogin, id_token):
        """The nonce this sign-in sent, and the issuer the portal was told to trust
        (allauth checked the audience, the expiry and the issuer of the discovery)."""
        expected = (sociallogin.state or {}).get("nonce") or ""
        given = id_token.get("nonce") or ""
        issuer = id_token.get("iss", "").rstrip("/")
        if not expected or not constant_time_compare(expected, given):
            logger.warning("sign-in refused: the ID token's nonce is not this sign-in's")
            raise ImmediateHttpResponse(refused(request, NOT_CHECKED, status=401))
        if issuer != settings.OIDC_ISSUER:
            logger.warning("sign-in refused: the ID token's issuer is %r", issuer)
            raise ImmediateHttpResponse(refused(request, NOT_CHECKED, status=401))

    def _update_email(self, user, claims):
        """The directory's email, when it changed (the person stays who their `sub` is)."""
        given = (claims.get("userinfo") or {}).get("email") or (claims.get("id_token") or {}).get(
            "email"
        )
        if given and given != user.email:
            type(user).objects.filter(pk=user.pk).update(email=given)
            user.email = given
