"""The Tokens page: a person's personal access tokens for the API (uploads/api/)."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ..models import ApiToken
from ..selectors import ReadOnly, require_writer

EXPIRIES = [("30", "in 30 days"), ("90", "in 90 days"), ("365", "in a year"), ("", "never")]


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What it is for, e.g. “camera pipeline on host cam-3”."
    )
    scopes = forms.MultipleChoiceField(
        choices=ApiToken.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiToken.Scope.READ],
        error_messages={"required": "Choose what the token may do: read, submit, or both."},
    )
    expires_in = forms.ChoiceField(label="Expires", choices=EXPIRIES, required=False, initial="90")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_scopes(self):
        scopes = self.cleaned_data["scopes"]
        if ApiToken.Scope.SUBMIT in scopes:
            try:
                require_writer(self.user)
            except ReadOnly:
                raise forms.ValidationError(
                    "You are a viewer in your teams: a token of yours can only read."
                ) from None
        return scopes

    def expires_at(self):
        days = self.cleaned_data["expires_in"]
        return timezone.now() + timedelta(days=int(days)) if days else None


REVOKE = "Revoke this token? Scripts that use it stop working at once; this cannot be undone."


@never_cache  # the page that shows a new token once must not be kept anywhere
@login_required
def tokens(request):
    """One's tokens, and a form for a new one, whose secret is shown once, here."""
    form = TokenForm(request.POST or None, user=request.user)
    secret = None
    if request.method == "POST" and form.is_valid():
        token, secret = ApiToken.issue(
            request.user,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.expires_at(),
        )
        form = TokenForm(user=request.user)
    return render(
        request,
        "uploads/tokens.html",
        {
            "form": form,
            "secret": secret,
            "tokens": request.user.api_tokens.all(),
            "revoke_question": REVOKE,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def token_revoke(request, pk):
    """Revoke one of the person's own tokens, once confirmed (GET asks)."""
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    if request.method == "GET":
        context = {"title": f"Revoke “{token.name}”", "question": REVOKE,
                   "button": "Yes, revoke it", "back": reverse("tokens")}  # fmt: skip
        return render(request, "uploads/confirm.html", context)
    if token.revoke():
        messages.success(request, f"Revoked “{token.name}”: it no longer works.")
    return redirect("tokens")
