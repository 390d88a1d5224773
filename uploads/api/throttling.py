"""API_REQUESTS_PER_MINUTE per token, counted in a database row per token and minute:
every gunicorn worker on every machine shares it (a process's memory would let each
worker allow the whole limit)."""

from django.conf import settings
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from ..models import ApiToken, TokenMinute


class TokenRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        if not isinstance(request.auth, ApiToken):
            return True  # refused before any work: 401
        now = timezone.now()
        minute = now.replace(second=0, microsecond=0)
        self.retry_after = max(1, 60 - int((now - minute).total_seconds()))
        return TokenMinute.count_one(request.auth, minute) <= settings.API_REQUESTS_PER_MINUTE

    def wait(self):
        return self.retry_after
