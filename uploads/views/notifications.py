"""Team webhooks (for the team's managers) and the unsubscribe link (no login)."""

import json
import time

from django.contrib import messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from .. import limits
from ..models import Notice, PersonSettings, WebhookEndpoint
from ..notifications import outbox, webhooks
from ..notifications.email import InvalidLink, unsubscribe_person
from ..notifications.forms import WebhookEndpointForm
from ..selectors import get_team_for_user

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
    endpoints = with_health(WebhookEndpoint.objects.filter(team=team))
    context = {"team": team, "form": form, "endpoints": endpoints}
    return render(request, "uploads/webhook_list.html", context)


def with_health(endpoints):
    """Each endpoint with `.last_success` (when a delivery last got a 2xx) and
    `.failures_in_a_row` (deliveries given up on, or failing and retried, since then)."""
    last_success = Subquery(
        Notice.objects.filter(endpoint=OuterRef("pk"), state=Notice.State.SENT)
        .order_by("-sent_at")
        .values("sent_at")[:1]
    )
    failing = Q(notices__state=Notice.State.FAILED) | (
        Q(notices__state=Notice.State.PENDING) & ~Q(notices__last_error="")
    )
    since = Q(last_success__isnull=True) | Q(notices__created_at__gt=F("last_success"))
    return endpoints.annotate(last_success=last_success).annotate(
        failures_in_a_row=Count("notices", filter=failing & since)
    )


def webhook_detail(request, slug, pk):
    """An endpoint's page. Its delivery log asks for itself again every few seconds (htmx,
    `?part=log`), as a submission's page does."""
    if request.GET.get("part") == "log" and not request.user.is_authenticated:
        # 286 tells htmx to stop polling: a logged-out page must not swap in the login form.
        return HttpResponse(status=286)
    return _webhook_detail(request, slug, pk)


@login_required
def _webhook_detail(request, slug, pk):
    endpoint = get_endpoint(request.user, slug, pk)
    log = Notice.objects.filter(endpoint=endpoint).order_by("-created_at", "-pk")[:LOG_SIZE]
    if request.GET.get("part") == "log":
        return render(request, "uploads/_webhook_log.html", {"endpoint": endpoint, "log": log})
    shown = request.session.pop(SHOW_ONCE_KEY, None)
    secret = None
    if shown and shown[0] == endpoint.pk and time.time() < shown[1]:
        secret = endpoint.secret
    context = {"team": endpoint.team, "endpoint": endpoint, "secret": secret, "log": log,
               "delete_question": DELETE}  # fmt: skip
    return render(request, "uploads/webhook_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def webhook_edit(request, slug, pk):
    """Change an endpoint's URL, format and events; the URL is checked as when it was added.
    The secret stays: receivers keep verifying with it."""
    endpoint = get_endpoint(request.user, slug, pk)
    form = WebhookEndpointForm(request.POST or None, instance=endpoint)
    if request.method == "POST" and form.is_valid():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            url=form.cleaned_data["url"],
            format=form.cleaned_data["format"],
            topics=form.cleaned_data["topics"],
        )
        messages.success(request, "The endpoint is saved; the next events go to it as it is now.")
        return redirect(endpoint)
    context = {"team": endpoint.team, "endpoint": endpoint, "form": form}
    return render(request, "uploads/webhook_edit.html", context)


def get_delivery(user, slug, pk, notice_pk):
    endpoint = get_endpoint(user, slug, pk)
    return get_object_or_404(Notice.objects.select_related("endpoint__team"), endpoint=endpoint,
                             pk=notice_pk)  # fmt: skip


@login_required
def webhook_delivery(request, slug, pk, notice_pk):
    """One delivery: the body POSTed (as it is sent, with the endpoint's format) and the
    receiver's answer."""
    notice = get_delivery(request.user, slug, pk, notice_pk)
    endpoint = notice.endpoint
    body = json.dumps(json.loads(webhooks.body_for(notice, endpoint)), indent=2)
    context = {"team": endpoint.team, "endpoint": endpoint, "notice": notice, "body": body}
    return render(request, "uploads/webhook_delivery.html", context)


@login_required
@require_POST
def webhook_redeliver(request, slug, pk, notice_pk):
    """Send a delivery again: a new copy in the outbox (its own webhook-id, so a receiver
    that dropped the first as a repeat takes it), sent by the usual delivery; the
    endpoint's admin history records who asked."""
    notice = get_delivery(request.user, slug, pk, notice_pk)
    copy = Notice(
        topic=notice.topic,
        channel=notice.channel,
        endpoint=notice.endpoint,
        submission_id=notice.submission_id,
        batch_id=notice.batch_id,
        facts=notice.facts,
    )
    with transaction.atomic():
        outbox.write([copy])
        LogEntry.objects.log_actions(
            request.user.pk,
            [notice.endpoint],
            CHANGE,
            change_message=f"Redelivered {notice.uid} as {copy.uid}.",
        )
    messages.success(request, "A new delivery is on its way; it appears below.")
    return redirect(notice.endpoint)


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
