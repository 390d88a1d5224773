"""The portal's tables, a module by concern; every model and public name is imported here,
so that `from uploads.models import X` finds it and Django finds every model.

- accounts: memories.ai accounts (MemoriesAccount)
- teams: teams, memberships, the identity provider's groups, each person's settings
- counters: lanes, tallies, tags, monthly quotas (the triggers keep them: uploads/counters.py)
- statuses: the statuses, the one table of allowed moves, the errors of a refused move
- queries: the database's clock, SQL the ORM lacks, row locks in uploads/locks.py's order
- video_requests, submissions: what a person asks for; a submission and its state machine
- events: a submission's timeline, one log line per event
- gate: each account's upload rate gate and its pause; poll_problems: the status poll's
  last problem; the process heartbeats are in uploads/heartbeats.py
- batches: "Submit many" and its rows
- tokens: the API's tables; notifications: endpoints, the outbox, alert episodes
- signals: what the models announce (a status change, a pause) for those above to react to

The models import nothing above them: no service, worker, notification delivery or view
(the import contract in .importlinter says so, and `make test` checks it).
"""

from ..heartbeats import ProcessBeat
from . import poll_problems, signals
from .accounts import MemoriesAccount, hint
from .batches import Batch, BatchRow
from .counters import Lane, QuotaMonth, Tag, Tally
from .events import Event, log_event
from .gate import UploadGate
from .notifications import (
    WEBHOOK_TOPICS,
    AlertEpisode,
    Notice,
    Topic,
    WebhookEndpoint,
    new_message_id,
    new_webhook_secret,
)
from .queries import (
    SecondsBetween,
    database_now,
    ids_of_each,
    local_time,
    lock_lane,
    lock_lanes,
    lock_team,
    seconds_to_finish,
)
from .statuses import (
    ALLOWED_MOVES,
    API_STATUS_TO_STATUS,
    FINAL_STATUSES,
    NOT_A_DUPLICATE_STATUSES,
    UNSENT_ENDS,
    CallbackLimitReached,
    ClaimLost,
    Status,
    TransitionError,
    new_callback_token,
)
from .submissions import Submission, SubmissionQuerySet
from .teams import GroupMapping, Membership, PersonSettings, Team
from .tokens import ApiToken, IdempotencyKey, TokenMinute, hash_token
from .video_requests import VideoRequest

__all__ = [
    "ALLOWED_MOVES",
    "API_STATUS_TO_STATUS",
    "FINAL_STATUSES",
    "NOT_A_DUPLICATE_STATUSES",
    "UNSENT_ENDS",
    "WEBHOOK_TOPICS",
    "AlertEpisode",
    "ApiToken",
    "Batch",
    "BatchRow",
    "CallbackLimitReached",
    "ClaimLost",
    "Event",
    "GroupMapping",
    "IdempotencyKey",
    "Lane",
    "Membership",
    "MemoriesAccount",
    "Notice",
    "PersonSettings",
    "ProcessBeat",
    "QuotaMonth",
    "SecondsBetween",
    "Status",
    "Submission",
    "SubmissionQuerySet",
    "Tag",
    "Tally",
    "Team",
    "TokenMinute",
    "Topic",
    "TransitionError",
    "UploadGate",
    "VideoRequest",
    "WebhookEndpoint",
    "database_now",
    "hash_token",
    "hint",
    "ids_of_each",
    "local_time",
    "lock_lane",
    "lock_lanes",
    "lock_team",
    "log_event",
    "new_callback_token",
    "new_message_id",
    "new_webhook_secret",
    "poll_problems",
    "seconds_to_finish",
    "signals",
]
