"""Abuse limits, counted in the shared cache: callbacks with unknown tokens, and the
webhook pages' "Send a test event".

A fixed window: a count per calling address per minute. (The limit per known
token is counted in the submission's row: Submission.take_callback.) The cache
is a database table shared by every process (settings.CACHES). A count is a
read and then a write, not atomic: concurrent requests may be undercounted by a
few, which an abuse limit can afford, and it costs no lock on the hot path.
"""

import time

from django.conf import settings
from django.core.cache import cache


def _over_limit(key, window_seconds, limit):
    """Count one more call in the current window; True once `limit` calls were counted.

    Calls over the limit are not written: a flood costs one read each.
    """
    key = f"{key}:{int(time.time() // window_seconds)}"
    count = cache.get(key) or 0
    if count >= limit:
        return True
    cache.set(key, count + 1, timeout=window_seconds)
    return False


def seconds_left(window_seconds):
    return int(window_seconds - time.time() % window_seconds) + 1


def unknown_token_over_limit(address):
    """Count a call with an unknown token from `address`; True once over the limit."""
    return _over_limit(
        f"callback:unknown:{address}", 60, settings.CALLBACK_UNKNOWN_TOKENS_PER_MINUTE
    )


# "Send a test event" is for seeing that an endpoint works, a few times: more than this
# in a minute would only flood the receiver (and the outbox).
WEBHOOK_TESTS_PER_MINUTE = 3


def webhook_test_over_limit(endpoint_id):
    """Count one test event for the endpoint; True once over the limit for this minute."""
    return _over_limit(f"webhook:test:{endpoint_id}", 60, WEBHOOK_TESTS_PER_MINUTE)
