"""API_REQUESTS_PER_MINUTE per token, counted in a database row per token and minute:
every gunicorn worker on every machine shares it (a process's memory would let each
worker allow the whole limit).

Every request is counted once, and one past the limit changes nothing (429 with
Retry-After):

- most are counted here, before the view runs: `TokenMinute.count_one`, one statement;
- a create (a view's `counted_in_create` methods: a submission, a batch) is counted by
  `count_create`, as the last write of the transaction that makes its object, so that it
  writes once: on SQLite every write waits for the database's one write lock, and a
  create that wrote its count first would wait for it twice (benchmarks/bench_api.py).
  Here it is only refused when its token's minute is full already (a read); past the
  limit its object is rolled back with its count. A create that made nothing (refused,
  replayed) is counted as it answers.

A create's checks (the form, the URL check) run before its transaction: creates racing
for a minute's last requests may each be checked, but no more than the limit are made.
"""

from django.conf import settings
from django.utils import timezone
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from ..models import ApiToken, TokenMinute

# Where a create's throttle leaves the minute it is to be counted in.
UNCOUNTED = "uncounted_minute"


class TokenRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        if not isinstance(request.auth, ApiToken):
            return True  # refused before any work: 401
        minute, self.retry_after = _this_minute()
        limit = settings.API_REQUESTS_PER_MINUTE
        if request.method in getattr(view, "counted_in_create", ()):
            setattr(request, UNCOUNTED, minute)
            return TokenMinute.count_in(request.auth, minute) < limit
        return TokenMinute.count_one(request.auth, minute) <= limit

    def wait(self):
        return self.retry_after


def count_create(request):
    """Count a create its throttle left uncounted (nothing when counted already): inside
    the transaction that makes its object, as its last write. Past the limit, Throttled
    (a 429), which rolls that transaction back, its count with it (a request refused
    changes nothing)."""
    minute = getattr(request, UNCOUNTED, None)
    if minute is None:
        return
    count = TokenMinute.count_one(request.auth, minute)
    setattr(request, UNCOUNTED, None)  # past the limit, its count is rolled back with it
    if count > settings.API_REQUESTS_PER_MINUTE:
        raise Throttled(wait=_this_minute()[1])


def _this_minute():
    """(the minute now, the seconds until the next one)."""
    now = timezone.now()
    minute = now.replace(second=0, microsecond=0)
    return minute, max(1, 60 - int((now - minute).total_seconds()))
