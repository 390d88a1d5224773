"""Team webhooks (for the team's managers) and the unsubscribe link (no login)."""

import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from .. import limits
from ..models import PersonSettings
from ..notifications import outbox
from ..notifications.email import InvalidLink, unsubscribe_person
from ..notifications.forms import WebhookEndpointForm
from ..notifications.records import Notice, WebhookEndpoint
from .access import get_team_for_user

LOG_SIZE = 100
DELETE = "Delete this endpoint? It receives nothing more, and its delivery log is deleted too."
SHOW_ONCE_KEY = "webhook_secret_once"  # the session key, not a secret
# The new endpoint's page shows its secret if opened this soon after it was added.
SHOW_ONCE_SECONDS = 300


def get_managed_team(user, slug):
    """The team, for its managers and superusers; 404 for anyone else (members included)."""
    team = get_team_for_user(user, slug)
    if not team.can_see_members:  # managers and superusers
        raise Http404("No such team.")
    return team


def get_endpoint(user, slug, pk):
    team = get_managed_team(user, slug)
    return get_object_or_404(WebhookEndpoint.objects.select_related("team"), team=team, pk=pk)


@login_required
def webhook_list(request, slug):
    team = get_managed_team(request.user, slug)
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        endpoint = WebhookEndpoint.objects.create(
            team=team,
            url=form.cleaned_data["url"],
            format=form.cleaned_data["format"],
            topics=form.cleaned_data["topics"],
            created_by=request.user,
        )
        # Shown once, on the endpoint's page if opened within SHOW_ONCE_SECONDS: never again.
        # The session keeps only which endpoint, never the secret itself.
        request.session[SHOW_ONCE_KEY] = [endpoint.pk, time.time() + SHOW_ONCE_SECONDS]
        return redirect(endpoint)
    endpoints = WebhookEndpoint.objects.filter(team=team)
    context = {"team": team, "form": form, "endpoints": endpoints}
    return render(request, "uploads/webhook_list.html", context)


@login_required
def webhook_detail(request, slug, pk):
    endpoint = get_endpoint(request.user, slug, pk)
    shown = request.session.pop(SHOW_ONCE_KEY, None)
    secret = None
    if shown and shown[0] == endpoint.pk and time.time() < shown[1]:
        secret = endpoint.secret
    log = Notice.objects.filter(endpoint=endpoint).order_by("-created_at", "-pk")[:LOG_SIZE]
    context = {"team": endpoint.team, "endpoint": endpoint, "secret": secret, "log": log,
               "delete_question": DELETE}  # fmt: skip
    return render(request, "uploads/webhook_detail.html", context)


@login_required
@require_POST
def webhook_test(request, slug, pk):
    endpoint = get_endpoint(request.user, slug, pk)
    if limits.webhook_test_over_limit(endpoint.pk):
        messages.error(
            request,
            f"No test event sent: at most {limits.WEBHOOK_TESTS_PER_MINUTE} a minute go to "
            f"one endpoint. Try again in {limits.seconds_left(60)} seconds.",
        )
        return redirect(endpoint)
    with transaction.atomic():
        outbox.queue_test_event(endpoint, request.user)
    messages.success(request, "A test event is on its way; its delivery appears below.")
    return redirect(endpoint)


@login_required
@require_POST
def webhook_enable(request, slug, pk):
    endpoint = get_endpoint(request.user, slug, pk)
    enable = request.POST.get("enable") == "1"
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=enable, disabled_reason="")
    messages.success(request, "The endpoint is enabled." if enable else "The endpoint is disabled.")
    return redirect(endpoint)


@login_required
@require_http_methods(["GET", "POST"])
def webhook_delete(request, slug, pk):
    """Delete an endpoint and its delivery log, once confirmed (GET asks)."""
    endpoint = get_endpoint(request.user, slug, pk)
    if request.method == "GET":
        context = {"title": "Delete this webhook endpoint", "question": DELETE,
                   "button": "Yes, delete it", "back": endpoint.get_absolute_url()}  # fmt: skip
        return render(request, "uploads/confirm.html", context)
    endpoint.delete()
    messages.success(request, "The endpoint is deleted.")
    return redirect("webhook_list", slug)


# The link at the foot of every email. No login: it must work from any mail client, and
# the signed token is the proof. CSRF-exempt: a mail client's one-click POST
# (List-Unsubscribe-Post) carries no CSRF token, and the token is what guards it. GET only
# shows a confirmation, since mail scanners follow links.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token):
    try:
        user = unsubscribe_person(token)
    except InvalidLink as exc:
        context = {"invalid": True, "reason": exc.reason}
        return render(request, "uploads/unsubscribe.html", context, status=400)
    if request.method == "POST":
        person = PersonSettings.of(user)
        person.email_problems = False
        person.email_done = PersonSettings.Done.NEVER
        person.email_alerts = False
        person.save()
        return render(request, "uploads/unsubscribe.html", {"done": True, "person": user})
    return render(request, "uploads/unsubscribe.html", {"person": user})
