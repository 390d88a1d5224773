from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out


def _say_logged_out(sender, request, user, **kwargs):
    # Sent before the session is flushed; the message survives it in its cookie
    # (messages' fallback storage) and is shown on the login page the logout leads to.
    from django.contrib import messages

    if request is not None and user is not None:
        # fail_silently: a logout outside a page (the test client's) has no messages.
        messages.success(
            request,
            f"You are logged out, {user.get_username()}. See you soon.",
            fail_silently=True,
        )


class UploadsConfig(AppConfig):
    name = "uploads"
    verbose_name = "Uploads"

    def ready(self):
        user_logged_out.connect(_say_logged_out, dispatch_uid="uploads.logged_out")
        # Who is told of a status change or a pause: the outbox's rows, written in the
        # change's transaction (the models announce it: uploads/models/signals.py).
        from .notifications import outbox

        outbox.subscribe()
        # The tasks, registered for the wake-up helpers (uploads/wake.py); this imports
        # the batches' service too, whose held rows join the queue as room frees
        # (admission.release_held).
        from . import tasks  # noqa: F401
