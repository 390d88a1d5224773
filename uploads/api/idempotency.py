"""Idempotency-Key on a create: a retry gets the first answer instead of a second object.

The key is inserted in the transaction that makes the object, under a unique constraint
(token, key): of two requests with one key, the second's insert waits for the first
to commit and then fails, and it answers with what the first made. A key is kept
API_IDEMPOTENCY_HOURS (24 h); only a successful answer is kept (after an error the
same key may be tried again).
"""

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from ..models import IdempotencyKey
from . import throttling
from .errors import problem

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class _NotKept(Exception):
    """The create answered an error: its transaction, key included, is rolled back."""

    def __init__(self, response):
        self.response = response


def respond_once(request, prepare, make, answer):
    """`prepare()`: the request checked (the form, the URL check: outside any
    transaction), returning a value or an error Response; `make(value, last_write)`: the
    object made (or an error Response), in one transaction with the request's count (its
    last write: `last_write`, or after it with the key); `answer(object)`: its Response,
    written after that transaction unless a key keeps it (the write lock is not held
    while it is written). A request that made nothing is counted as it answers."""
    try:
        return _respond_once(request, prepare, make, answer)
    finally:
        throttling.count_create(request)  # unless counted already: a 429 past the limit


def _respond_once(request, prepare, make, answer):
    key = request.headers.get(HEADER)
    if key is None:
        return _create(request, prepare, make, answer)
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        return problem(
            400,
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            code="invalid_idempotency_key",
        )
    fingerprint = _fingerprint(request)
    earlier = _earlier(request.auth, key)
    if earlier is not None:
        return _replay(earlier, fingerprint)
    prepared = prepare()
    if isinstance(prepared, Response):
        # A request with this key may have committed while this one was being checked (and
        # made this one a duplicate of what it created): its answer is this one's too.
        earlier = _earlier(request.auth, key)
        return prepared if earlier is None else _replay(earlier, fingerprint)
    try:
        with transaction.atomic():
            _expired(request.auth).delete()
            record = IdempotencyKey.objects.create(
                token=request.auth, key=key, request_hash=fingerprint
            )
            made = make(prepared, None)
            response = made if isinstance(made, Response) else answer(made)
            if not 200 <= response.status_code < 300:
                raise _NotKept(response)
            record.status_code, record.response = response.status_code, response.data
            record.save(update_fields=["status_code", "response"])
            throttling.count_create(request)
            return response
    except _NotKept as refused:
        return refused.response
    except IntegrityError:
        # Another request with this key committed first: its answer is this one's.
        earlier = _earlier(request.auth, key)
        if earlier is None:
            raise
        return _replay(earlier, fingerprint)


def _create(request, prepare, make, answer):
    """Without a key: the object made, and the request counted, in one transaction."""
    prepared = prepare()
    if isinstance(prepared, Response):
        return prepared
    made = make(prepared, lambda: throttling.count_create(request))
    return made if isinstance(made, Response) else answer(made)


def _earlier(token, key):
    """The key's answer, unless older than the kept time."""
    return IdempotencyKey.objects.filter(
        token=token, key=key, created_at__gte=_kept_since()
    ).first()


def _expired(token):
    """The token's keys older than the kept time: deleted by its next keyed create."""
    return IdempotencyKey.objects.filter(token=token, created_at__lt=_kept_since())


def _kept_since():
    return timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)


def _replay(earlier, fingerprint):
    if earlier.request_hash != fingerprint:
        return problem(
            422,
            f"This {HEADER} was used with another request in the last "
            f"{settings.API_IDEMPOTENCY_HOURS:g} hours: use a new key for a new request.",
            code="idempotency_key_reused",
        )
    return Response(
        earlier.response, status=earlier.status_code, headers={"Idempotent-Replayed": "true"}
    )


def _fingerprint(request):
    """The request as a key's first use saw it: method, path, query and parsed body."""
    data = request.data
    body = data if isinstance(data, bytes) else json.dumps(data, sort_keys=True).encode()
    seen = f"{request.method} {request.path}?{request.META.get('QUERY_STRING', '')}\n"
    return hashlib.sha256(seen.encode() + body).hexdigest()
