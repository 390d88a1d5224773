"""The daily digest: what was done since the last one, at DIGEST_HOUR in each person's zone.

Run by run_periodic. Exactly once a day per person, across restarts and several
periodic processes: the digest row carries the person's local day, and the database
refuses a second row for the same person and day.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Notice, PersonSettings, Topic
from .outbox import write


def send_due_digests(now=None):
    """Write the digest of everyone whose hour has come today and has something waiting."""
    now = now or timezone.now()
    waiting = Notice.objects.filter(state=Notice.State.DIGEST)
    people = waiting.values_list("recipient_id", flat=True).distinct().order_by()
    zones = {s.user_id: s.zone for s in PersonSettings.objects.filter(user_id__in=list(people))}
    default = PersonSettings().zone
    written = 0
    for user_id in people:
        local = now.astimezone(zones.get(user_id, default))
        if local.hour < settings.DIGEST_HOUR:
            continue
        written += _write_digest(user_id, local.date(), now)
    return written


def _write_digest(user_id, day, now):
    try:
        with transaction.atomic():
            digest = Notice(
                topic=Topic.DIGEST,
                channel=Notice.Channel.EMAIL,
                recipient_id=user_id,
                digest_day=day,
            )
            write([digest])
            Notice.objects.filter(
                recipient_id=user_id, state=Notice.State.DIGEST, created_at__lte=now
            ).update(state=Notice.State.IN_DIGEST, digest=digest)
    except IntegrityError:
        return 0  # today's went already: these wait for tomorrow's
    return 1
