"""The waiting line: fair order between teams, places in it, and estimated send times.

Teams take turns (round-robin), the team served longest ago first; within a
team the oldest submission goes first. So a team that queued 500 URLs does
not make a team that queued one wait behind all 500.
"""

from django.db.models import Count, F, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import Status, Submission, UploadGate


def _team_order(queryset):
    """Teams with waiting submissions, in the order their turns come."""
    return list(
        queryset.values("team", "team__last_sent_at")
        .annotate(waiting=Count("id"), oldest=Min("created_at"))
        .order_by(F("team__last_sent_at").asc(nulls_first=True), "oldest", "team")
    )


def next_in_line():
    """The pk of the submission to send next, or None."""
    ready = Submission.objects.ready_to_send()
    teams = _team_order(ready)
    if not teams:
        return None
    return (
        ready.filter(team=teams[0]["team"])
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
        .first()
    )


def places(submission_ids):
    """{pk: (place, estimated send time or None)} for those of the ids that are waiting.

    Computed from aggregates (a few queries, whatever the queue's length): in
    round-robin order, a submission that is r-th in its team's line comes after
    min(n, r - 1) submissions of every team with n waiting, plus one from each
    team whose turn comes before its own team's and that has r or more waiting.
    """
    ids = list(submission_ids)
    if not ids:
        return {}
    waiting = Submission.objects.filter(status=Status.QUEUED)
    teams = _team_order(waiting)
    turn = {row["team"]: i for i, row in enumerate(teams)}
    counts = [row["waiting"] for row in teams]
    ahead_in_team = (
        waiting.filter(team=OuterRef("team"))
        .filter(
            Q(created_at__lt=OuterRef("created_at"))
            | Q(created_at=OuterRef("created_at"), id__lt=OuterRef("id"))
        )
        .order_by()
        .values("team")
        .annotate(n=Count("id"))
        .values("n")
    )
    ranked = (
        waiting.filter(pk__in=ids)
        .annotate(rank=Coalesce(Subquery(ahead_in_team), 0) + 1)
        .values_list("pk", "team", "rank")
    )
    gate = UploadGate.get()
    start = max(gate.next_allowed_at, timezone.now())
    interval = UploadGate.interval()
    result = {}
    for pk, team, rank in ranked:
        before = sum(min(n, rank - 1) for n in counts)
        before += sum(1 for n in counts[: turn[team]] if n >= rank)
        place = before + 1
        eta = None if gate.paused else start + interval * before
        result[pk] = (place, eta)
    return result
