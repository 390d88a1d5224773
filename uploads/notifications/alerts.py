"""Superusers' alerts that run_periodic looks for: needs review building up.

(Sending paused is told by UploadGate.pause itself, in the transaction that pauses.)
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from ..models import AlertEpisode, Batch, Status, Submission, Topic
from .outbox import alert_superusers, finish_batch_if_done


def check_review_pile(now=None):
    """Alert once when more than NEEDS_REVIEW_ALERT_COUNT need review, or the oldest has
    waited over NEEDS_REVIEW_ALERT_AGE_SECONDS; the episode ends when neither holds."""
    now = now or timezone.now()
    pile = Submission.objects.filter(status=Status.NEEDS_REVIEW).aggregate(
        count=Count("pk"), oldest=Min("updated_at")
    )
    too_old = now - timedelta(seconds=settings.NEEDS_REVIEW_ALERT_AGE_SECONDS)
    kind = AlertEpisode.Kind.REVIEW_PILING_UP
    if pile["count"] > settings.NEEDS_REVIEW_ALERT_COUNT or (
        pile["oldest"] is not None and pile["oldest"] < too_old
    ):
        facts = {"count": pile["count"], "oldest": pile["oldest"].isoformat()}
        return alert_superusers(kind, Topic.REVIEW_PILING_UP, facts)
    AlertEpisode.end(kind)
    return 0


def finish_batches():
    """Batches whose summary is not written though nothing holds it any more: the last
    rows ended in transactions that could not see each other, or what is left has sat in
    needs review for a day."""
    open_batches = Batch.objects.filter(state=Batch.State.QUEUED, summary_at__isnull=True)
    return sum(finish_batch_if_done(pk) for pk in open_batches.values_list("pk", flat=True))
