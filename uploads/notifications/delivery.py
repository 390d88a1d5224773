"""Sending the outbox: claim due rows fairly by destination, send several at once, record
each outcome.

A claim is a conditional UPDATE that sets a lease and counts an attempt; finishing is
conditional on that attempt, so a worker that lost its claim (it stalled past the
lease and another took the row) changes nothing. A worker killed mid-send leaves the
row claimed until the lease runs out; then any worker claims it again.

No destination holds up another. Emails and webhooks have lanes of their own threads
(NOTIFY_EMAIL_CONCURRENCY, NOTIFY_WEBHOOK_CONCURRENCY): no endpoint, however slow,
delays an email. An endpoint has at most one delivery under way at a time, across
every worker (its row is locked while a claim for it is decided), and endpoints take
turns: the next webhook goes to the endpoint served least recently in this run, then
to the one whose oldest row has waited longest, never to the next row of an endpoint
that is being served. A hanging endpoint so takes one webhook thread for at most
WEBHOOK_DEADLINE at a time, and 1,000 rows for it wait their turn behind no one.

Every attempt ends in an outcome: whatever a delivery raises is a failed attempt with
its reason, tried again on the schedule and given up after it (NOTIFY_RETRY_FOR_SECONDS),
never retried for ever. An endpoint that answers 410 Gone, or a permanent redirect
(301, 308), is disabled at once: it told us the address is gone. A temporary redirect
(302, 303, 307) is a failed attempt like a 5xx.
"""

import logging
import random
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Min, Q
from django.db.models.functions import Now
from django.utils import timezone

from .. import faults, metrics
from ..models import Notice, WebhookEndpoint
from . import email, outbox, webhooks

logger = logging.getLogger(__name__)

EMAIL = Notice.Channel.EMAIL
WEBHOOK = Notice.Channel.WEBHOOK
# Answers that say the endpoint's address is gone for good: disabled at once.
GONE_FOR_GOOD = {410: "Gone", 301: "Moved Permanently", 308: "Permanent Redirect"}


def due():
    """Rows to send now: pending, due, and not held by a live claim."""
    return Notice.objects.filter(state=Notice.State.PENDING, due_at__lte=Now()).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=Now())
    )


def claim_next(channel=None, busy=(), turns=None):
    """Claim the next due row, fairly (see the module's docstring); None when there is none.

    `busy`: endpoints this process is delivering to now; `turns`: when each endpoint was
    last served in this run ({endpoint id: a rising number})."""
    if channel in (None, EMAIL):
        for pk in (
            due().filter(channel=EMAIL).order_by("due_at", "pk").values_list("pk", flat=True)[:10]
        ):
            if _claim(pk):
                return _claimed(pk)
        if channel == EMAIL:
            return None
    for endpoint_id in _endpoints_in_turn(busy, turns or {}):
        if (pk := _claim_for_endpoint(endpoint_id)) is not None:
            return _claimed(pk)
    return None


def _endpoints_in_turn(busy, turns):
    """Endpoints with due rows, not busy here: the least recently served first, then the
    one whose oldest row has waited longest."""
    waiting = (
        due()
        .filter(channel=WEBHOOK)
        .exclude(endpoint_id__in=list(busy))
        .values("endpoint_id")
        .annotate(oldest=Min("due_at"))
        .order_by("oldest")
    )
    heads = [(row["endpoint_id"], row["oldest"]) for row in waiting[:100]]
    heads.sort(key=lambda head: (turns.get(head[0], -1), head[1]))
    return [endpoint_id for endpoint_id, _ in heads]


def _lease():
    return Now() + timedelta(seconds=settings.NOTIFY_LEASE_SECONDS)


def _claim(pk):
    return due().filter(pk=pk).update(lease_until=_lease(), attempts=F("attempts") + 1)


def _claim_for_endpoint(endpoint_id):
    """Claim the endpoint's oldest due row unless a delivery to it is under way anywhere.

    Locks: the endpoint's row, then the notice's (the only rows this takes)."""
    with transaction.atomic():
        # Claims for one endpoint wait here for each other: the check below then sees
        # the other worker's lease.
        if not _lock_endpoint(endpoint_id):
            return None
        in_flight = Notice.objects.filter(
            endpoint_id=endpoint_id, state=Notice.State.PENDING, lease_until__gte=Now()
        )
        if in_flight.exists():
            return None
        first = due().filter(endpoint_id=endpoint_id).order_by("due_at", "pk")
        pk = first.values_list("pk", flat=True).first()
        return pk if pk is not None and _claim(pk) else None


def _lock_endpoint(endpoint_id):
    """Lock the endpoint's row (the first lock of every write here that takes it: then
    its notices). Returns whether it exists."""
    locked = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id)
    return bool(list(locked.values_list("pk", flat=True)))


def _claimed(pk):
    return Notice.objects.select_related("recipient", "endpoint").get(pk=pk)


def deliver_due(time_budget=30.0):
    """Send due rows until none is left or about `time_budget` seconds have passed, several
    at once. Returns how many were handled.

    Inside a transaction (a test's, a caller's) the rows are sent one after another in
    the same fair order: other threads could not see what the transaction holds."""
    ends = time.monotonic() + time_budget
    if connection.in_atomic_block:
        return _deliver_in_turn(ends)
    return _deliver_in_threads(ends)


def _deliver_in_turn(ends):
    handled, turns = 0, {}
    while time.monotonic() < ends:
        notice = claim_next(turns=turns)
        if notice is None:
            break
        if notice.endpoint_id:
            turns[notice.endpoint_id] = handled
        deliver_one(notice)
        handled += 1
    return handled


def _deliver_in_threads(ends):
    lanes = {EMAIL: settings.NOTIFY_EMAIL_CONCURRENCY, WEBHOOK: settings.NOTIFY_WEBHOOK_CONCURRENCY}
    handled, turns, running = 0, {}, {}  # running: future -> (channel, endpoint id)
    # A lane that found nothing to claim is looked at again when one of its own deliveries
    # ends, or a second later: each look is a query over the due rows, and looking for
    # webhooks at every email's end slowed the emails beside a hanging endpoint's rows
    # (benchmarks/bench_notifications.py; figures in docs/performance.md).
    look_at = dict.fromkeys(lanes, 0.0)
    with ThreadPoolExecutor(max_workers=sum(lanes.values()), thread_name_prefix="notify") as pool:
        while True:
            idle = not running
            for channel, size in lanes.items():
                if not idle and time.monotonic() < look_at[channel]:
                    continue
                while time.monotonic() < ends and _in_lane(running, channel) < size:
                    busy = {endpoint for _, endpoint in running.values() if endpoint}
                    notice = claim_next(channel, busy=busy, turns=turns)
                    if notice is None:
                        look_at[channel] = time.monotonic() + 1.0
                        break
                    if notice.endpoint_id:
                        turns[notice.endpoint_id] = handled + len(running)
                    future = pool.submit(_deliver_in_thread, notice)
                    running[future] = (channel, notice.endpoint_id)
            if not running:
                return handled
            done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            for future in done:
                channel, _ = running.pop(future)
                look_at[channel] = 0.0
                handled += 1


def _in_lane(running, channel):
    return sum(1 for lane, _ in running.values() if lane == channel)


def _deliver_in_thread(notice):
    try:
        deliver_one(notice)
    except Exception:
        # Recording the outcome failed (the database): the lease runs out and the row is
        # claimed again.
        logger.exception("notice %s: its outcome could not be recorded", notice.pk)
    finally:
        connection.close()  # this thread's own connection


def next_due_at():
    """When the earliest row waiting for a retry comes due, or None."""
    return (
        Notice.objects.filter(state=Notice.State.PENDING)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )


def deliver_one(notice):
    """Send one claimed row and record what came of it; never raises for the row's sake."""
    faults.point("notify.before_delivery", notice=notice)
    try:
        if notice.channel == EMAIL:
            _deliver_email(notice)
        else:
            _deliver_webhook(notice)
    except Exception as exc:
        # A bad address that arrived around the form's checks, a template's slip: this
        # attempt failed, with its reason, and the schedule decides what comes next.
        logger.exception("notice %s: its delivery failed unexpectedly", notice.pk)
        _failed(notice, f"The delivery failed unexpectedly: {type(exc).__name__}: {exc}")


def _deliver_email(notice):
    recipient = notice.recipient
    if not (recipient.is_active and recipient.email) or not email.still_wanted(notice):
        _finish(notice, state=Notice.State.DROPPED)
        metrics.notification(EMAIL, "dropped")
        return
    try:
        email.send(notice)
    except email.EmailNotSent as exc:
        _failed(notice, exc.args[0])
        return
    _finish(notice, state=Notice.State.SENT, sent_at=Now(), last_error="")
    metrics.notification(EMAIL, "sent")


def _deliver_webhook(notice):
    endpoint = notice.endpoint
    if not endpoint.is_active and notice.topic != "test":
        _finish(notice, state=Notice.State.DROPPED, last_error="The endpoint is disabled.")
        metrics.notification(WEBHOOK, "dropped")
        return
    try:
        outcome = webhooks.deliver(notice)
    except webhooks.NotDelivered as exc:
        if exc.status_code in GONE_FOR_GOOD:
            _gone(notice, exc)
        else:
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
    metrics.notification(WEBHOOK, "sent")


def _finish(notice, **fields):
    """Record the outcome, if this worker's claim still holds. Returns whether it did."""
    held = Notice.objects.filter(pk=notice.pk, state=Notice.State.PENDING, attempts=notice.attempts)
    return bool(held.update(lease_until=None, **fields))


def retry_delay(attempts):
    base = settings.NOTIFY_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    capped = min(base, settings.NOTIFY_RETRY_MAX_SECONDS)
    return timedelta(seconds=capped * random.uniform(0.8, 1.2))


def _outcome(message, status_code=None, seconds=None):
    outcome = {"status_code": status_code, "last_error": message[:2000]}
    if seconds is not None:
        outcome["duration_ms"] = int(seconds * 1000)
    return outcome


def _failed(notice, message, status_code=None, seconds=None):
    outcome = _outcome(message, status_code, seconds)
    give_up_at = notice.created_at + timedelta(seconds=settings.NOTIFY_RETRY_FOR_SECONDS)
    retry_at = timezone.now() + retry_delay(notice.attempts)
    if notice.topic == "test":  # a test is tried once: the person is looking at it now
        _finish(notice, state=Notice.State.FAILED, **outcome)
        metrics.notification(notice.channel, "failed")
        return
    if retry_at < give_up_at:
        _finish(notice, due_at=retry_at, **outcome)
        metrics.notification(notice.channel, "failed")
        return
    # Its schedule is over: the row's log line says so, and why.
    outcome["last_error"] = (
        f"Given up after {notice.attempts} attempts over "
        f"{_duration(settings.NOTIFY_RETRY_FOR_SECONDS)}; the last one: {message}"
    )[:2000]
    with transaction.atomic():
        if notice.endpoint_id:
            _lock_endpoint(notice.endpoint_id)  # the endpoint, then its notices
        if _finish(notice, state=Notice.State.FAILED, **outcome) and notice.endpoint_id:
            disable_endpoint(
                notice.endpoint_id,
                f"Deliveries failed for {_duration(settings.NOTIFY_RETRY_FOR_SECONDS)}; "
                f"the last one: {message}",
            )
    metrics.notification(notice.channel, "gave_up")


def _gone(notice, exc):
    """410 or a permanent redirect: the endpoint is disabled now, not after a day."""
    reason = f"It answered {exc.status_code} ({GONE_FOR_GOOD[exc.status_code]}): {exc.message}"
    outcome = _outcome(f"{reason} The endpoint was disabled.", exc.status_code, exc.seconds)
    with transaction.atomic():
        _lock_endpoint(notice.endpoint_id)  # the endpoint, then its notices
        if _finish(notice, state=Notice.State.FAILED, **outcome):
            disable_endpoint(notice.endpoint_id, reason)
    metrics.notification(WEBHOOK, "gave_up")


def _duration(seconds):
    if seconds == 24 * 3600:
        return "a day"
    hours = seconds / 3600
    if hours >= 1:
        return f"{hours:g} hour{'s' if hours != 1 else ''}"
    return f"{seconds:g} s"


def disable_endpoint(endpoint_id, reason):
    """The endpoint stops, what still waited for it is dropped, and the team's managers
    are told once."""
    if WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).update(
        is_active=False, disabled_reason=reason
    ):
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        outbox.endpoint_disabled(endpoint, reason)
        # What was still waiting for it is not sent any more.
        Notice.objects.filter(endpoint_id=endpoint_id, state=Notice.State.PENDING).exclude(
            lease_until__gt=Now()
        ).update(state=Notice.State.DROPPED, last_error="The endpoint was disabled.")
