"""Sending the outbox: claim a due row, send it through its door, record the outcome.

A claim is a conditional UPDATE that sets a lease and counts an attempt; finishing is
conditional on that attempt, so a worker that lost its claim (it stalled past the
lease and another took the row) changes nothing. A worker killed mid-send leaves the
row claimed until the lease runs out; then any worker claims it again.
"""

import logging
import random
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from . import email, outbox, webhooks
from .records import Notice, WebhookEndpoint

logger = logging.getLogger(__name__)


def due():
    """Rows to send now: pending, due, and not held by a live claim."""
    return Notice.objects.filter(state=Notice.State.PENDING, due_at__lte=Now()).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=Now())
    )


def claim_next():
    """Claim the next due row (oldest first); None when there is none."""
    for pk in due().order_by("due_at", "pk").values_list("pk", flat=True)[:10]:
        claimed = (
            due()
            .filter(pk=pk)
            .update(
                lease_until=Now() + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS),
                attempts=F("attempts") + 1,
            )
        )
        if claimed:
            return Notice.objects.select_related("recipient", "endpoint").get(pk=pk)
    return None


def deliver_due(time_budget=30.0):
    """Send due rows until none is left or about `time_budget` seconds have passed.

    Returns how many were handled."""
    handled = 0
    ends = time.monotonic() + time_budget
    while time.monotonic() < ends and (notice := claim_next()) is not None:
        deliver_one(notice)
        handled += 1
    return handled


def next_due_at():
    """When the earliest row waiting for a retry comes due, or None."""
    return (
        Notice.objects.filter(state=Notice.State.PENDING)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )


def deliver_one(notice):
    _test_pause_point("before_delivery")
    if notice.channel == Notice.Channel.EMAIL:
        _deliver_email(notice)
    else:
        _deliver_webhook(notice)


def _deliver_email(notice):
    recipient = notice.recipient
    if not (recipient.is_active and recipient.email) or not email.still_wanted(notice):
        _finish(notice, state=Notice.State.DROPPED)
        return
    try:
        email.send(notice)
    except email.EmailNotSent as exc:
        _failed(notice, exc.args[0])
        return
    _finish(notice, state=Notice.State.SENT, sent_at=Now(), last_error="")


def _deliver_webhook(notice):
    endpoint = notice.endpoint
    if not endpoint.is_active and notice.topic != "test":
        _finish(notice, state=Notice.State.DROPPED, last_error="The endpoint is disabled.")
        return
    try:
        outcome = webhooks.deliver(notice)
    except webhooks.NotDelivered as exc:
        _failed(notice, exc.message, status_code=exc.status_code, seconds=exc.seconds)
        return
    _finish(
        notice,
        state=Notice.State.SENT,
        sent_at=Now(),
        status_code=outcome.status_code,
        duration_ms=int(outcome.seconds * 1000),
        last_error="",
    )


def _finish(notice, **fields):
    """Record the outcome, if this worker's claim still holds. Returns whether it did."""
    held = Notice.objects.filter(pk=notice.pk, state=Notice.State.PENDING, attempts=notice.attempts)
    return bool(held.update(lease_until=None, **fields))


def retry_delay(attempts):
    base = settings.NOTIFY_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    capped = min(base, settings.NOTIFY_RETRY_MAX_SECONDS)
    return timedelta(seconds=capped * random.uniform(0.8, 1.2))


def _failed(notice, message, status_code=None, seconds=None):
    outcome = {"status_code": status_code, "last_error": message[:2000]}
    if seconds is not None:
        outcome["duration_ms"] = int(seconds * 1000)
    give_up_at = notice.created_at + timedelta(seconds=settings.NOTIFY_RETRY_FOR_SECONDS)
    retry_at = timezone.now() + retry_delay(notice.attempts)
    if retry_at < give_up_at or notice.topic == "test":
        if notice.topic == "test":  # a test is tried once: the person is looking at it now
            _finish(notice, state=Notice.State.FAILED, **outcome)
        else:
            _finish(notice, due_at=retry_at, **outcome)
        return
    with transaction.atomic():
        if _finish(notice, state=Notice.State.FAILED, **outcome) and notice.endpoint_id:
            disable_endpoint(notice.endpoint_id, message)


def disable_endpoint(endpoint_id, message):
    """After a day of failures: the endpoint stops, and the team's managers are told once."""
    reason = f"Deliveries failed for a day; the last one: {message}"
    if WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).update(
        is_active=False, disabled_reason=reason
    ):
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        outbox.endpoint_disabled(endpoint, reason)
        # What was still waiting for it is not sent any more.
        Notice.objects.filter(endpoint_id=endpoint_id, state=Notice.State.PENDING).exclude(
            lease_until__gt=Now()
        ).update(state=Notice.State.DROPPED, last_error="The endpoint was disabled.")


def _test_pause_point(name):
    """Tests kill a worker exactly here: it sleeps when NOTIFY_TEST_PAUSE names this point."""
    if name == settings.NOTIFY_TEST_PAUSE:
        logger.warning("pausing at %s for a test", name)
        time.sleep(30)
