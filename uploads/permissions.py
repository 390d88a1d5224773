"""Who may act on one submission, for the pages that offer the action and the bulk actions
that the batches worker runs (uploads/bulk.py).

Who may see what, `manages`, and `require_writer` (a viewer is refused with 403 and the
reason) are reads shared with the API: uploads/selectors.py.
"""

from .models import Status
from .selectors import manages, writes_in


def can_cancel(user, submission, *, manager=None):
    """Its submitter (unless a viewer of its team now) or a manager of its team, while it
    waits. `manager`: manages() if known."""
    if submission.status != Status.QUEUED:
        return False
    if submission.submitter_id == user.pk and (manager or writes_in(user, submission.team_id)):
        return True
    return manages(user, submission.team_id) if manager is None else manager


def can_move_to_front(user, submission, *, manager=None):
    """A manager of its team, while it waits and is not at the front already."""
    if submission.status != Status.QUEUED or submission.fronted_at is not None:
        return False
    return manages(user, submission.team_id) if manager is None else manager
