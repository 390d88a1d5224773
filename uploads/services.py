"""What people do, in one place for the pages, the admin, commands and scripts alike."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any, cast

from django.contrib.auth.models import User
from django.db import transaction

from . import locks
from .models import Batch, BatchRow, Event, MemoriesAccount, Status, Submission, UploadGate
from .sending import admission
from .sending.admission import Refused
from .wake import wake_sender

__all__ = [
    "Refused",
    "cancel",
    "move_to_front",
    "queue_new",
    "mark_failed",
    "resend",
    "resume_sending",
    "submit",
    "submit_rows",
]

# The form's cleaned values a submission is made of (uploads.forms.SubmissionForm).
FORM_VALUES = (*Submission.ASKED, "confirm_public")

# What an administrator may send again (each upload costs credits: a person decides), and
# what they may settle as failed after looking into it.
RESENDABLE = frozenset({Status.FAILED, Status.NEEDS_REVIEW})
MARKABLE_FAILED = frozenset({Status.NEEDS_REVIEW})


@locks.retry_conflicts
def submit(
    user: User, data: Mapping[str, Any], *, last_write: Callable[[], None] | None = None
) -> Submission:
    """A new submission from a form's (or any caller's) cleaned data, queued to be sent.

    Refused (with the reason) when the person has as many waiting in the team
    as they may, or the team has used this month's quota. `last_write` is called at the
    end of its transaction (the API counts its request there: uploads/api/throttling.py).
    """
    with transaction.atomic():
        _, month = admission.admit(data["team"], user, 1)
        submission = queue_new(user, data, counted_in=month)
        if last_write is not None:
            last_write()
        return submission


def queue_new(user: User, data: Mapping[str, Any], *, counted_in: date) -> Submission:
    """Queue one submission whose room `admission.admit` took in this transaction."""
    values = {name: data[name] for name in FORM_VALUES}
    values["url_check"] = data["url_check"].to_json() if data.get("url_check") else {}
    with transaction.atomic():
        submission = Submission.objects.create(
            counted_in=counted_in, team=data["team"], submitter=user, **values
        )
        locks.took("tally", submission.team_id, (submission.team_id, user.pk))
        submission.record(Event.Kind.CREATED, "Submitted.", actor=user)
        # Only once the row is committed: a rolled-back submission leaves no task.
        transaction.on_commit(wake_sender)
    return submission


def submit_rows(
    user: User, batch: Batch, rows: Sequence[BatchRow], *, counted_in: date | None = None
) -> list[Submission]:
    """Submissions of a batch's checked rows (their values, team and URL check), queued to
    be sent as `submit` queues one, in the room `admission.admit` took for them (counted in
    the month `counted_in`); written in bulk, in the caller's transaction."""
    # A row's team is empty only until the row is checked; these are checked.
    team_ids = [cast(int, row.team_id) for row in rows]
    submissions = Submission.objects.bulk_create(
        (
            Submission(
                team_id=team_id,
                submitter=user,
                batch=batch,
                batch_row=row,
                counted_in=counted_in,
                **row.request_values(),
            )
            for row, team_id in zip(rows, team_ids, strict=True)
        ),
        batch_size=500,
    )
    for team_id in sorted(set(team_ids)):
        locks.took("tally", team_id, (team_id, user.pk))
    Event.create_many(
        Event(
            submission=submission,
            kind=Event.Kind.CREATED,
            from_status=submission.status,
            to_status=submission.status,
            message=f"Submitted in batch #{batch.pk}, line {row.line}.",
            actor=user,
        )
        for submission, row in zip(submissions, rows, strict=True)
    )
    transaction.on_commit(wake_sender)
    return submissions


def cancel(user: User, submission: Submission) -> Event:
    """Cancel a waiting submission; TransitionError if it no longer waits."""
    return submission.transition(
        Status.CANCELLED, kind=Event.Kind.CANCELLED, message="Cancelled.", actor=user
    )


def resend(user: User, submission: Submission) -> Event:
    """An administrator sends a failed or needs-review submission again: back to the queue,
    its error cleared. TransitionError if it moved on meanwhile.

    Neither the person's cap nor the team's quota refuses it, and it takes no new unit of
    the quota: an administrator decided, after looking into it, about a submission that
    was counted when it was first queued (it keeps that unit, in that month;
    docs/how-it-works.md)."""
    event = submission.transition(
        Status.QUEUED,
        kind=Event.Kind.ADMIN,
        message="Sent back to the queue by an administrator.",
        actor=user,
        only_from=RESENDABLE,
        error_code="",
        error_message="",
        not_before=None,
        request_started_at=None,
    )
    transaction.on_commit(wake_sender)
    return event


def mark_failed(user: User, submission: Submission) -> Event:
    """An administrator settles a needs-review submission as failed, after looking into it.
    TransitionError if it moved on meanwhile."""
    return submission.transition(
        Status.FAILED,
        kind=Event.Kind.ADMIN,
        message="Marked failed by an administrator after review.",
        actor=user,
        data={"cause": "marked"},
        only_from=MARKABLE_FAILED,
    )


def move_to_front(user: User, submissions: Iterable[Submission]) -> list[Submission]:
    """Move waiting submissions to the front of their team's line (a manager's decision).

    Returns the ones moved; those no longer waiting or already at the front stay as they are.
    """
    return Submission.move_to_front([s.pk for s in submissions], actor=user)


def resume_sending(account: MemoriesAccount | None = None) -> None:
    """After an account's pause (a bad key, no credits, a misconfiguration): it sends again
    (None: the default account)."""
    UploadGate.resume(account)
    transaction.on_commit(wake_sender)
