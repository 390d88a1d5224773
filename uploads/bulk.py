"""Acting on many submissions at once (the list's "cancel" and "move to the front"), for a
person: each row checked as the single action checks it (uploads/permissions.py) and
changed through the same service, so the one status writer and its locks are kept.

The list's page runs it for a few rows; the batches worker for many (tasks.bulk_act).
"""

from django.contrib.auth import get_user_model

from . import services
from .models import TransitionError
from .permissions import can_cancel, can_move_to_front
from .selectors import managed_team_ids, visible_submissions

# Rows the task locks and changes together when moving to the front.
CHUNK = 200

# Who may do each action to one submission: allowed(user, submission, manager=...).
ALLOWED = {"cancel": can_cancel, "front": can_move_to_front}


def act(user, name, pks):
    """Do `name` to each of these submissions the user may act on; (changed, left as is).

    Run in the request for a few, by the batches worker for many. Access is checked per
    row, as the single action checks it, with the person's managed teams read once.
    """
    allowed = ALLOWED[name]
    managed = managed_team_ids(user)
    changed = 0
    candidates = visible_submissions(user).filter(pk__in=pks).order_by("pk")
    chunk = []
    for submission in candidates.iterator(chunk_size=CHUNK):
        manager = user.is_superuser or submission.team_id in managed
        if not allowed(user, submission, manager=manager):
            continue
        if name == "cancel":
            changed += _cancel_one(user, submission)
            continue
        chunk.append(submission)
        if len(chunk) == CHUNK:
            changed += len(services.move_to_front(user, chunk))
            chunk = []
    if chunk:
        changed += len(services.move_to_front(user, chunk))
    return changed, len(set(pks)) - changed


def _cancel_one(user, submission):
    """1 when cancelled; 0 when it was claimed for sending meanwhile."""
    try:
        services.cancel(user, submission)
    except TransitionError:
        return 0
    return 1


def act_for(user_id, name, pks):
    """The task's side: the person as they are now (still active), then `act`."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return 0, len(pks)
    return act(user, name, pks)
