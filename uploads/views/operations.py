"""For operators: the health checks, the metrics, and resuming sending after a pause."""

import hmac
import ipaddress

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from memories_portal.client_ip import client_ip

from .. import health, metrics, services
from ..models import MemoriesAccount


@login_required
@require_POST
def sending_resume(request):
    """Resume sending after an account-level pause (bad key, no credits): superusers only."""
    if not request.user.is_superuser:
        raise Http404
    account = MemoriesAccount.objects.filter(pk=_number(request.POST.get("account"))).first()
    if account is None and "account" in request.POST:
        return HttpResponseBadRequest("No such memories.ai account.", content_type="text/plain")
    account = account or MemoriesAccount.default()
    services.resume_sending(account)
    messages.success(request, f"Sending through the account “{account}” resumed.")
    return redirect("home")


def _number(text):
    return int(text) if text and text.isdigit() else None


# No login: load balancers call it. 200 while this process and its database answer,
# whatever the background processes do: their loss must not take every web process,
# and memories.ai's callbacks, out of rotation.
@never_cache
@require_safe
def healthz(request):
    report = health.web()
    return JsonResponse(report, status=200 if report["ok"] else 503)


# No login: monitors call it. It shows no secrets, only which background process is
# missing and how far behind the queue is.
@never_cache
@require_safe
def healthz_workers(request):
    report = health.workers()
    return JsonResponse(report, status=200 if report["ok"] else 503)


# No login: Prometheus calls it, from an allowed address or with the bearer token.
@never_cache
@require_safe
def metrics_text(request):
    if not _may_read_metrics(request):
        return HttpResponse(
            "Metrics are for the addresses in METRICS_ALLOWED_IPS or a request bearing "
            "METRICS_TOKEN.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    body, content_type = metrics.exposition(health.DatabaseCollector())
    return HttpResponse(body, content_type=content_type)


def _may_read_metrics(request):
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(allowed, strict=False)
        for allowed in settings.METRICS_ALLOWED_IPS
    )
