"""The login page (with the company's sign-in when it is configured), logging out (at the
provider too), and the pages that say why a sign-in did not happen."""

import requests
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from .config import PROVIDER_ID
from .provider import CompanyAdapter

# Where the provider's end_session_endpoint and the ID token are kept for logging out.
LOGOUT_KEY = "oidc_logout"


def sign_in_context():
    """What the login pages need to offer the company's sign-in."""
    return {
        "oidc": settings.OIDC_ENABLED,
        "oidc_only": settings.OIDC_ONLY,
        "oidc_name": settings.OIDC_PROVIDER_NAME,
        "oidc_login_url": reverse("openid_connect_login", args=[PROVIDER_ID]),
    }


class LoginView(auth_views.LoginView):
    """The usual login, with the provider's button; with OIDC_ONLY the button alone, and a
    password posted here anyway is refused (the break-glass way in is /admin/login/)."""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **sign_in_context()}

    def post(self, request, *args, **kwargs):
        if settings.OIDC_ONLY:
            context = {**self.get_context_data(), "password_refused": True}
            return self.render_to_response(context, status=403)
        return super().post(request, *args, **kwargs)


@require_POST
def logout(request):
    """Log out here, then at the provider where it ends sessions (RP-initiated logout)."""
    at_provider = request.session.get(LOGOUT_KEY)
    response = auth_views.LogoutView.as_view()(request)
    if not at_provider or not at_provider.get("end_session_endpoint"):
        return response
    back = request.build_absolute_uri(reverse("login"))
    query = {"id_token_hint": at_provider["id_token"], "post_logout_redirect_uri": back,
             "client_id": settings.OIDC_CLIENT_ID}  # fmt: skip
    endpoint = at_provider["end_session_endpoint"]
    return HttpResponseRedirect(endpoint + ("&" if "?" in endpoint else "?") + urlencode(query))


def oidc_login(request, provider_id):
    """allauth's view, with the adapter that keeps the ID token (provider.CompanyAdapter).
    POST only, from the login page's button (allauth's own GET page is not used)."""
    if request.method != "POST":
        return redirect_to_login(request.GET.get("next", ""), reverse("login"))
    return _allauth_view(OAuth2LoginView, request, provider_id)


def oidc_callback(request, provider_id):
    return _allauth_view(OAuth2CallbackView, request, provider_id)


def _allauth_view(view, request, provider_id):
    """allauth's view; a provider that does not answer (its discovery document, first of
    all, is read on each request) gets a page that says so, not a 500."""
    try:
        return view.adapter_view(CompanyAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist:
        raise Http404("No such sign-in.") from None
    except requests.RequestException:
        return provider_down(request)


def refused(request, reason, status=403):
    """A sign-in that did not happen, and why; the local login is offered unless OIDC_ONLY."""
    context = {"reason": reason, **sign_in_context()}
    return render(request, "registration/sign_in_refused.html", context, status=status)


def provider_down(request):
    return refused(
        request,
        f"{settings.OIDC_PROVIDER_NAME} is not answering just now, so you cannot sign in "
        "with it. Try again in a few minutes.",
        status=503,
    )
