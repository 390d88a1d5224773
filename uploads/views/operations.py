"""For operators: the health check, and resuming sending after a pause."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from .. import health, services
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


# No login: load balancers and monitors call it. It shows no secrets, only
# whether the parts work and how far behind the queue is.
@never_cache
@require_safe
def healthz(request):
    report = health.report()
    return JsonResponse(report, status=200 if report["ok"] else 503)
