"""A submission's statuses, the one table of allowed moves between them, and the errors a
refused move raises."""

import secrets

from django.db import models


class Status(models.TextChoices):
    QUEUED = "queued", "Waiting"
    SENDING = "sending", "Sending"
    PROCESSING = "processing", "Processing"
    PARSED = "parsed", "Done"
    PARSE_ERROR = "parse_error", "Processing failed"
    FAILED = "failed", "Failed"
    NEEDS_REVIEW = "needs_review", "Needs review"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = frozenset({Status.PARSED, Status.PARSE_ERROR, Status.FAILED, Status.CANCELLED})
# A URL submitted again to the same team is a duplicate (warned about, skipped unless
# the person asks to send it again) unless every earlier submission of it ended so.
NOT_A_DUPLICATE_STATUSES = frozenset({Status.FAILED, Status.PARSE_ERROR, Status.CANCELLED})
# Ends straight from the queue (cancelled, or its link died while it waited): nothing was
# uploaded, so its unit of the team's monthly quota is given back.
UNSENT_ENDS = frozenset({Status.CANCELLED, Status.FAILED})

# The one table of allowed moves. Anything not listed is refused.
ALLOWED_MOVES = {
    Status.QUEUED: {Status.SENDING, Status.CANCELLED, Status.FAILED},
    Status.SENDING: {
        Status.PROCESSING,
        Status.PARSED,
        Status.PARSE_ERROR,
        Status.FAILED,
        Status.NEEDS_REVIEW,
        Status.QUEUED,
    },
    # To needs_review when polling gives up on a video memories.ai stopped listing.
    Status.PROCESSING: {Status.PARSED, Status.PARSE_ERROR, Status.NEEDS_REVIEW},
    Status.NEEDS_REVIEW: {
        Status.PROCESSING,
        Status.PARSED,
        Status.PARSE_ERROR,
        Status.QUEUED,
        Status.FAILED,
    },
    Status.FAILED: {Status.QUEUED},
    Status.PARSED: set(),
    Status.PARSE_ERROR: set(),
    Status.CANCELLED: set(),
}

# memories.ai's own status words and the portal status each one means.
API_STATUS_TO_STATUS = {
    "UNPARSE": Status.PROCESSING,
    "PARSE": Status.PARSED,
    "PARSE_ERROR": Status.PARSE_ERROR,
}


class TransitionError(Exception):
    """A status change that the status model does not allow."""


class ClaimLost(TransitionError):
    """A step of a send whose claim is gone: recovered, settled, or claimed again.

    The worker that gets this stops: it sends nothing and changes nothing more.
    """


class CallbackLimitReached(Exception):
    """One token called far more often than a video's life needs."""


def new_callback_token() -> str:
    """A fresh unguessable callback token (256 bits); only its hash is ever stored."""
    return secrets.token_urlsafe(32)
