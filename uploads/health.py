"""What the health checks report.

`/healthz` (load balancers): this web process answers and its database does; nothing
about the background processes, whose loss must not take the pages and memories.ai's
callbacks out of rotation. `/healthz/workers` (monitoring): each kind of background
process's heartbeat, the queue, the submissions waiting for review, a pause.
`/metrics` reads the same facts as gauges (`DatabaseCollector`).
"""

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Min, Sum
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from . import heartbeats
from .metrics import PREFIX
from .models import (
    MemoriesAccount,
    ProcessBeat,
    Status,
    Submission,
    Tally,
    UploadGate,
    poll_problems,
)


def _age(moment, now):
    return None if moment is None else round((now - moment).total_seconds(), 1)


def web():
    """ "ok" when the database answers one trivial query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return {"ok": False, "database": "unavailable"}
    return {"ok": True, "database": "ok"}


def processes(now):
    """Each expected kind's last beat and age: {kind: {...}}."""
    beats = dict(ProcessBeat.objects.values_list("process", "beat_at"))
    limit = settings.HEALTH_MAX_HEARTBEAT_AGE_SECONDS
    found = {}
    for kind in heartbeats.KINDS:
        at = beats.get(kind)
        age = _age(at, now)
        found[kind] = {
            "ok": age is not None and age <= limit,
            "last_beat": at.isoformat() if at else None,
            "age_seconds": age,
            "max_age_seconds": limit,
        }
    return found


def missing(found):
    """One line per kind that has not beaten recently, for a person reading an alert."""
    lines = []
    for kind, state in found.items():
        if state["ok"]:
            continue
        if state["age_seconds"] is None:
            lines.append(f"{kind}: never beat")
        else:
            lines.append(f"{kind}: last beat {state['age_seconds']:.0f} s ago")
    return lines


def workers():
    """A small JSON-ready dict; "ok" when the database answers and every kind beats."""
    now = timezone.now()
    try:
        found = processes(now)
        gates = list(UploadGate.objects.select_related("account").order_by("account__name"))
        accounts = list(MemoriesAccount.objects.order_by("name").values_list("name", flat=True))
        oldest = Submission.objects.filter(status=Status.QUEUED).aggregate(at=Min("created_at"))
        review = Submission.objects.filter(status=Status.NEEDS_REVIEW).aggregate(
            count=Count("id"), oldest=Min("updated_at")
        )
    except DatabaseError:
        return {"ok": False, "database": "unavailable"}
    down = missing(found)
    return {
        "ok": not down,
        "database": "ok",
        "missing": down,
        "processes": found,
        "queue": {"oldest_waiting_age_seconds": _age(oldest["at"], now)},
        # Submissions a person must decide on (outcome unknown, polling gave up):
        # reported, not failing the check, since the portal itself works.
        "needs_review": {
            "count": review["count"],
            "oldest_age_seconds": _age(review["oldest"], now),
        },
        "polling": poll_problems.first(gates),
        "sending": {
            "paused": any(g.paused for g in gates),
            "reason": " ".join(g.paused_reason for g in gates if g.paused),
            # Each account's gate: they pause and send apart.
            "accounts": {
                name: {"paused": False, "reason": ""}  # no gate row yet: never paused
                for name in accounts
            }
            | {
                str(g.account): {"paused": g.paused, "reason": g.paused_reason}
                for g in gates
                if g.account_id
            },
        },
    }


class DatabaseCollector:
    """Gauges read from the database at each scrape (a few small queries)."""

    def collect(self):
        now = timezone.now()
        by_status = dict(
            Tally.objects.values("status").annotate(n=Sum("n")).values_list("status", "n")
        )
        submissions = GaugeMetricFamily(
            f"{PREFIX}_submissions", "Submissions, by status.", labels=["status"]
        )
        for status in Status.values:
            submissions.add_metric([status], by_status.get(status) or 0)
        yield submissions

        oldest = Submission.objects.filter(status=Status.QUEUED).aggregate(at=Min("created_at"))
        yield GaugeMetricFamily(
            f"{PREFIX}_oldest_waiting_seconds",
            "How long the oldest queued submission has waited (0: none waits).",
            value=_age(oldest["at"], now) or 0,
        )

        ages = GaugeMetricFamily(
            f"{PREFIX}_process_heartbeat_age_seconds",
            "Seconds since each kind of background process last beat (+Inf: never).",
            labels=["process"],
        )
        for kind, state in processes(now).items():
            age = state["age_seconds"]
            ages.add_metric([kind], float("inf") if age is None else age)
        yield ages

        paused = GaugeMetricFamily(
            f"{PREFIX}_sending_paused",
            "1 while sending through this memories.ai account is paused (a bad key, no "
            "credits), else 0.",
            labels=["account"],
        )
        for name, is_paused in UploadGate.objects.filter(account__isnull=False).values_list(
            "account__name", "paused"
        ):
            paused.add_metric([name], 1 if is_paused else 0)
        yield paused
