"""Who may do what to a submission or a batch, for the pages that offer the action
(cancelling and moving to the front, shared with the bulk actions: uploads/permissions.py).

What a person may see, and `require_writer` (a viewer is refused with 403 and the
reason), are reads shared with the API: uploads/selectors.py.
"""

from ..models import Status
from ..selectors import ReadOnly, require_writer
from ..services import MARKABLE_FAILED, RESENDABLE


def can_change_batch(user, batch):
    """Queueing a batch or cancelling what of it waits: the person who made it (unless they
    are only a viewer now), or a superuser."""
    if user.is_superuser:
        return True
    if batch.created_by_id != user.pk:
        return False
    try:
        require_writer(user)
    except ReadOnly:
        return False
    return True


def can_resend(user, submission):
    """Sending again costs credits: administrators only, for failed or needs review."""
    return user.is_superuser and submission.status in RESENDABLE


def can_mark_failed(user, submission):
    """Settling a needs-review submission as failed: administrators only."""
    return user.is_superuser and submission.status in MARKABLE_FAILED


def can_submit_again(submission):
    """The form, prefilled from it, for what ended without being processed."""
    return submission.status in {Status.FAILED, Status.PARSE_ERROR, Status.CANCELLED}
