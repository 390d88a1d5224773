"""The one order in which every write path takes its row locks, and what to do when the
database breaks a deadlock anyway.

Two transactions that lock the same rows in opposite orders can each wait for the
other: PostgreSQL then aborts one of them ("deadlock detected"). So every write path
takes its locks in this order, and never goes back to an earlier kind:

1. **submissions**, by id (`select_for_update`, or the conditional UPDATE of a claim);
2. the **team** (`Team`: its turn in the round-robin);
3. the **lanes** (`Lane`, a person's waiting count and turn), by (team, person);
4. the **quota month** (`QuotaMonth`, the team's counter);
5. **batch rows** being let in (`BatchRow`, held rows released);
6. the **tallies** (`Tally`), and the tag rows;
7. the **upload gate** (`UploadGate`, one row per memories.ai account);
8. an API token's **minute count** (`TokenMinute`), the last write of an API create.

Work on several teams goes team by team, in ascending team id, each team's rows in
the order above. A submission's status write takes its lane (when it enters or
leaves the queue) and its tallies through the triggers of uploads/counters.py: so a
path that needs a team, a lane or a quota row takes them *before* that write, never
after it. Rows already held may be written again at any point.

The paths (each in the module that owns the write):

- submit, a batch's confirm, releasing held rows (uploads/sending/admission.py,
  uploads/services.py): lane, quota month, (held rows,) then the new submissions'
  insert (their tallies);
- an administrator's resend (Submission.transition): the submission, then the status
  write (lane, tallies);
- cancel, a dead link failed, a batch's cancel (Submission._write_move): the
  submission, its lane, the quota month given back, then the status write;
- the claim (uploads.sending.queue.take_claim): the submission, the team, then the status write
  (lane, tallies), then the team's and lane's turns, already held;
- a setback that gives the turn back (recovery, 0429, a retry: Submission.transition
  with give_back_turn): the submission, the team, then the status write, then the
  turns, already held;
- moving to the front (Submission.move_to_front): per team, its submissions, their
  lanes, then the writes;
- a send's departure (uploads/sending/sender.py, _depart): the submission's claim,
  then the gate;
- an API create (uploads/api/idempotency.py): its service's path above, then its
  token's minute count (uploads/api/throttling.py);
- a callback, a poll, an answer (Submission.apply_api_status, mark_accepted): the
  submission, then its tallies.

Every lock is `select_for_update(no_key=True)` (FOR NO KEY UPDATE): no path changes a key,
and a plain FOR UPDATE would also block the foreign-key checks of rows that refer to the
locked one (a new submission's check of its team, while a claim holds the team's row),
which then wait on locks the order does not show.

`took` is called wherever one of these locks is taken (also for those the triggers
take): it is the fault point "lock" (uploads/faults.py), where tests record the order
and fail a path that breaks it.
"""

import functools
import logging
import random
import threading
import time

from django.db import OperationalError, transaction

from . import faults

logger = logging.getLogger(__name__)

ORDER = ("submission", "team", "lane", "quota", "batch_row", "tally", "gate", "token_minute")
RANK = {kind: rank for rank, kind in enumerate(ORDER)}

# How many times a transaction the database aborted (deadlock, serialization) is run again.
CONFLICT_RETRIES = 3
# SQLSTATEs of a transaction aborted to break a deadlock or a serialization conflict.
CONFLICTS = frozenset({"40P01", "40001"})

_retries = 0
_retries_lock = threading.Lock()


def took(kind, team_id=None, key=None):
    """A lock of `kind` (ORDER) on the row `key` of team `team_id` is taken now."""
    faults.point("lock", kind=kind, team=team_id, key=key)


def retries():
    """How many transactions this process ran again after a deadlock or a serialization
    failure (the storm's goal: none)."""
    return _retries


def is_conflict(exc):
    """True for an error by which the database aborted the transaction to break a deadlock
    or a serialization conflict: running it again may well succeed."""
    cause = exc.__cause__
    return isinstance(exc, OperationalError) and getattr(cause, "sqlstate", None) in CONFLICTS


def retry_conflicts(function):
    """Run `function` (which opens its own transaction) again when the database aborted it
    to break a deadlock or a serialization conflict: at most CONFLICT_RETRIES times, each
    counted and logged. Inside a caller's transaction nothing is retried: the abort spoiled
    the caller's transaction, which only its owner can start over."""

    @functools.wraps(function)
    def retrying(*args, **kwargs):
        if transaction.get_connection().in_atomic_block:
            return function(*args, **kwargs)
        attempt = 0
        while True:
            try:
                return function(*args, **kwargs)
            except OperationalError as exc:
                if not is_conflict(exc) or attempt >= CONFLICT_RETRIES:
                    raise
                attempt += 1
                _count_retry()
                logger.warning(
                    "transaction retried after a database conflict (%s, try %d of %d): %s",
                    function.__qualname__,
                    attempt,
                    CONFLICT_RETRIES,
                    " | ".join(str(exc).split("\n")),
                )
                # A few milliseconds, jittered: the other transaction finishes meanwhile.
                time.sleep(random.uniform(0.005, 0.03) * attempt)

    return retrying


def _count_retry():
    global _retries
    with _retries_lock:
        _retries += 1
