"""What people do, in one place for the pages, the admin, commands and scripts alike."""

from django.db import transaction

from .models import Event, Status, Submission, UploadGate
from .tasks import wake_sender


def submit(user, data):
    """A new submission from a form's (or any caller's) cleaned data, queued to be sent."""
    with transaction.atomic():
        submission = Submission.objects.create(
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


def resume_sending():
    """After a pause (a bad key, no credits, a misconfiguration): send again."""
    UploadGate.resume()
    transaction.on_commit(wake_sender)
