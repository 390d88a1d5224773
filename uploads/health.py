"""What /healthz reports: the database, the worker's heartbeat, the queue, the gate."""

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.utils import timezone

from .models import MemoriesAccount, Status, Submission, UploadGate


def _age(moment, now):
    return None if moment is None else round((now - moment).total_seconds(), 1)


def report():
    """A small JSON-ready dict; "ok" when the database answers and the worker is alive."""
    now = timezone.now()
    try:
        # The heartbeat is kept on the default account's gate.
        gate = UploadGate.objects.filter(account__name=MemoriesAccount.DEFAULT_NAME).first()
        gates = list(UploadGate.objects.select_related("account").order_by("account__name"))
        oldest = Submission.objects.filter(status=Status.QUEUED).aggregate(at=Min("created_at"))
        review = Submission.objects.filter(status=Status.NEEDS_REVIEW).aggregate(
            count=Count("id"), oldest=Min("updated_at")
        )
    except DatabaseError:
        return {"ok": False, "database": "unavailable"}
    heartbeat = gate.worker_heartbeat_at if gate else None
    heartbeat_age = _age(heartbeat, now)
    worker_ok = (
        heartbeat_age is not None and heartbeat_age <= settings.HEALTH_MAX_HEARTBEAT_AGE_SECONDS
    )
    return {
        "ok": worker_ok,
        "database": "ok",
        "worker": {
            "ok": worker_ok,
            "last_heartbeat": heartbeat.isoformat() if heartbeat else None,
            "age_seconds": heartbeat_age,
            "max_age_seconds": settings.HEALTH_MAX_HEARTBEAT_AGE_SECONDS,
        },
        "queue": {"oldest_waiting_age_seconds": _age(oldest["at"], now)},
        # Submissions a person must decide on (outcome unknown, polling gave up):
        # reported, not failing the check, since the portal itself works.
        "needs_review": {
            "count": review["count"],
            "oldest_age_seconds": _age(review["oldest"], now),
        },
        "polling": _first_poll_problem(gates),
        "sending": {
            "paused": any(g.paused for g in gates),
            "reason": " ".join(g.paused_reason for g in gates if g.paused),
            # Each account's gate: they pause and send apart.
            "accounts": {
                str(g.account): {"paused": g.paused, "reason": g.paused_reason}
                for g in gates
                if g.account_id
            },
        },
    }


def _first_poll_problem(gates):
    gate = next((g for g in gates if g.poll_problem), None)
    return {
        "problem": gate.poll_problem if gate else "",
        "since": gate.poll_problem_at.isoformat() if gate and gate.poll_problem_at else None,
    }
