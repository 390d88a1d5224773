"""memories.ai's callbacks, once the view has read them: a token, a status word, a video number.

memories.ai does not sign callbacks: the unguessable token in the URL (256
bits, one per send, only its SHA-256 stored) is the authentication. The
count for the token and the change it brings share one transaction: one
write, and on SQLite one turn of the write lock, per callback.
"""

import hmac

from django.conf import settings
from django.db import transaction

from . import locks
from .models import CallbackLimitReached, Submission, hash_token

__all__ = ["CallbackLimitReached", "CallbackRefused", "UnknownToken", "receive"]


class UnknownToken(Exception):
    """No submission waits for a callback with this token."""


class CallbackRefused(Exception):
    """A known token with a body that says nothing usable: answered with `status` and `reason`."""

    def __init__(self, reason, status=400):
        super().__init__(reason)
        self.reason, self.status = reason, status


@locks.retry_conflicts
def receive(token, api_status, video_no, *, refusal=None):
    """Apply a callback; returns "changed", "repeat" or "ignored".

    `refusal`: what was wrong with the body, raised only for a known token (an
    unknown one is UnknownToken whatever it sent). Raises CallbackLimitReached
    for a token called far more often than a video's life needs, and
    ValueError when the video number is not the one on record.
    """
    digest = hash_token(token) if 20 <= len(token) <= 100 else None
    # Every outcome leaves the transaction normally (what it counted is kept)
    # and is raised after it.
    with transaction.atomic():
        outcome = _apply(digest, api_status, video_no, refusal)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _apply(digest, api_status, video_no, refusal):
    try:
        submission = _submission_for_token(digest)
    except CallbackLimitReached as exc:
        return exc
    if submission is None:
        return UnknownToken()
    if refusal is not None:
        return refusal
    try:
        return submission.apply_api_status(api_status, video_no, source="callback", locked=True)
    except ValueError as exc:
        return exc


def _submission_for_token(digest):
    """The token's submission, counted and locked; None for an unknown token."""
    if digest is None:
        return None
    submission = Submission.take_callback(digest, settings.CALLBACK_CALLS_PER_TOKEN_PER_HOUR)
    # The lookup is by hash, so timing reveals nothing about the token; the
    # constant-time comparison keeps it that way if the lookup ever changes.
    if submission is None or not hmac.compare_digest(submission.callback_token_hash, digest):
        return None
    return submission
