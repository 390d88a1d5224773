"""What people do, in one place for the pages, the admin, commands and scripts alike."""

from django.db import transaction

from .models import Event, Status, Submission, UploadGate
from .tasks import wake_sender

# The form's cleaned values a submission is made of (uploads.forms.SubmissionForm).
FORM_VALUES = (*Submission.ASKED, "confirm_public")


def submit(user, data):
    """A new submission from a form's (or any caller's) cleaned data, queued to be sent."""
    values = {name: data[name] for name in FORM_VALUES}
    values["probe"] = data["url_check"].to_json() if data.get("url_check") else {}
    with transaction.atomic():
        submission = Submission.objects.create(team=data["team"], submitter=user, **values)
        submission.record(Event.Kind.CREATED, "Submitted.", actor=user)
        # Only once the row is committed: a rolled-back submission leaves no task.
        transaction.on_commit(wake_sender)
    return submission


def submit_rows(user, batch, rows):
    """Submissions of a batch's checked rows (their values, team and URL check), queued to
    be sent as `submit` queues one; written in bulk, in the caller's transaction."""
    submissions = Submission.objects.bulk_create(
        (
            Submission(
                team_id=row.team_id,
                submitter=user,
                batch=batch,
                batch_row=row,
                **row.request_values(),
            )
            for row in rows
        ),
        batch_size=500,
    )
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


def cancel(user, submission):
    """Cancel a waiting submission; TransitionError if it no longer waits."""
    return submission.transition(
        Status.CANCELLED, kind=Event.Kind.CANCELLED, message="Cancelled.", actor=user
    )


def resume_sending():
    """After a pause (a bad key, no credits, a misconfiguration): send again."""
    UploadGate.resume()
    transaction.on_commit(wake_sender)
