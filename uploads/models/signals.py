"""What the models announce, for the layers above them to react to.

The models import nothing above them: whoever must act on a status change or a pause
(the notifications' outbox) connects a receiver in AppConfig.ready (uploads/apps.py).
Both are sent inside the transaction of the change, so a receiver's writes commit or
roll back with it.
"""

from django.dispatch import Signal

# A submission's status is written (Submission._write_move): sent with `submission`
# (the row as it was, its old status still on it), `to` (the new status) and `message`.
status_changed = Signal()

# An account's sending was paused, starting an episode (UploadGate.pause): sent with
# `reason` and `account` (a MemoriesAccount).
sending_paused = Signal()
