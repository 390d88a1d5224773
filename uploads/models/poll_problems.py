"""The status poll's last problem for an account, until a poll succeeds: /healthz shows it,
and it is never read as "no videos".

Stored in the account's UploadGate row (its `poll_problem` fields, where the table has
them), but apart from the gate's rate and pause: polling writes it, /healthz reads it.
"""

from django.db.models.functions import Now

from .gate import UploadGate


def _row(account):
    return UploadGate.objects.filter(pk=UploadGate.of(account).pk)


def note(problem, account=None):
    """A poll of the account failed (an error, or an answer of an unknown shape)."""
    _row(account).update(poll_problem=problem, poll_problem_at=Now())


def clear(account=None):
    """A poll of the account succeeded."""
    _row(account).exclude(poll_problem="").update(poll_problem="", poll_problem_at=None)


def first(gates):
    """The first problem among these gates, as /healthz reports it."""
    gate = next((g for g in gates if g.poll_problem), None)
    return {
        "problem": gate.poll_problem if gate else "",
        "since": gate.poll_problem_at.isoformat() if gate and gate.poll_problem_at else None,
    }
