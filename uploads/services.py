"""What people do, in one place for the pages, the admin, commands and scripts alike."""

from django.db import transaction

from .models import Event, Status, Submission, UploadGate
from .sending import admission
from .sending.admission import Refused
from .tasks import wake_sender

__all__ = ["Refused", "cancel", "move_to_front", "queue_new", "resume_sending", "submit"]


def submit(user, data):
    """A new submission from a form's (or any caller's) cleaned data, queued to be sent.

    Refused (with the reason) when the person has as many waiting in the team
    as they may, or the team has used this month's quota.
    """
    with transaction.atomic():
        _, month = admission.admit(data["team"], user, 1)
        return queue_new(user, data, counted_in=month)


def queue_new(user, data, *, counted_in):
    """Queue one submission whose room `admission.admit` took in this transaction."""
    with transaction.atomic():
        submission = Submission.objects.create(
            counted_in=counted_in,
            team=data["team"],
            submitter=user,
            url=data["url"],
            datetime_taken=data["datetime_taken"],
            camera_model=data["camera_model"],
            latitude=data["latitude"],
            longitude=data["longitude"],
            tags=data["tags"],
            retain_original_video=data["retain_original_video"],
            video_transcription_prompt=data["video_transcription_prompt"],
            confirm_public=data["confirm_public"],
            probe=data["url_check"].to_json() if data.get("url_check") else {},
        )
        submission.record(Event.Kind.CREATED, "Submitted.", actor=user)
        # Only once the row is committed: a rolled-back submission leaves no task.
        transaction.on_commit(wake_sender)
    return submission


def cancel(user, submission):
    """Cancel a waiting submission; TransitionError if it no longer waits."""
    return submission.transition(
        Status.CANCELLED, kind=Event.Kind.CANCELLED, message="Cancelled.", actor=user
    )


def move_to_front(user, submissions):
    """Move waiting submissions to the front of their team's line (a manager's decision).

    Returns the ones moved; those no longer waiting or already at the front stay as they are.
    """
    return Submission.move_to_front([s.pk for s in submissions], actor=user)


def resume_sending():
    """After a pause (a bad key, no credits, a misconfiguration): send again."""
    UploadGate.resume()
    transaction.on_commit(wake_sender)
