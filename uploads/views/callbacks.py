"""memories.ai's callback, as HTTP: read the body (bounded, chunked too), understand it, answer.

What it means for the submission is `uploads.callback_handling.receive`.
"""

import io
import json
import re

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from memories_portal.client_ip import client_ip

from .. import bodies, callback_handling, limits, metrics
from ..callback_handling import CallbackRefused
from ..models import API_STATUS_TO_STATUS

VIDEO_NO = re.compile(r"[A-Za-z0-9._:-]{1,64}")


# How /metrics counts each answer (memories_portal_callbacks_total{result}).
RESULT_OF_STATUS = {200: "applied", 404: "unknown_token", 409: "conflict", 413: "too_large",
                    429: "limited"}  # fmt: skip


def _callback_answer(status, **body):
    metrics.callback_result(RESULT_OF_STATUS.get(status, "refused"))
    return JsonResponse(body, status=status)


def _too_many(window_seconds):
    response = _callback_answer(429, error="Too many callbacks.")
    response["Retry-After"] = str(limits.seconds_left(window_seconds))
    return response


# CSRF-exempt: memories.ai cannot send a CSRF token. The unguessable token in
# the URL is the authentication, since memories.ai does not sign callbacks.
@csrf_exempt
@require_POST
def memories_callback(request, token):
    limit = settings.CALLBACK_MAX_BODY_BYTES
    # Refused before the body is read: the declared length is all it takes.
    if _declared_length(request) > limit:
        return _callback_answer(413, error="Body too large.")
    # The body is read and understood before any transaction: a caller that
    # sends it slowly holds only its own connection, never the database.
    try:
        body = _read_body(request, limit)
    except CallbackRefused as exc:
        return _callback_answer(exc.status, error=exc.reason)
    if len(body) > limit:
        return _callback_answer(413, error="Body too large.")
    api_status = video_no = refusal = None
    try:
        api_status, video_no = _callback_fields(request, body)
    except CallbackRefused as exc:
        refusal = exc
    try:
        result = callback_handling.receive(token, api_status, video_no, refusal=refusal)
    except callback_handling.CallbackLimitReached:
        # A token called far more often than a video's life needs: no more work for it.
        return _too_many(3600)
    except CallbackRefused as exc:
        return _callback_answer(exc.status, error=exc.reason)
    except ValueError as exc:
        return _callback_answer(409, error=str(exc))
    except callback_handling.UnknownToken:
        # A known token is always served, so memories.ai is never refused by this;
        # an address that keeps guessing is told to slow down.
        if limits.unknown_token_over_limit(client_ip(request)):
            return _too_many(60)
        return _callback_answer(404, error="Unknown callback.")
    return _callback_answer(200, ok=True, result=result)


# Bodies are read in pieces of at most this many bytes (and never more than the limit + 1).
READ_PIECE_BYTES = 64 * 1024


def _read_body(request, limit):
    """At most `limit` + 1 bytes of the body: one more than the limit means too large.
    A chunked body is read from the server's input (uploads/bodies.py)."""
    if bodies.is_chunked(request.META):
        try:
            stream = bodies.chunked_input(request.META)
        except bodies.LengthRequired as exc:
            raise CallbackRefused(exc.message, 411) from None
    else:
        stream = request
    pieces, size = [], 0
    while size <= limit:
        try:
            piece = stream.read(min(READ_PIECE_BYTES, limit + 1 - size))
        except (OSError, ValueError) as exc:
            # A broken chunk encoding, or the caller went away mid-body.
            raise CallbackRefused(f"The body could not be read: {exc}.") from exc
        if not piece:
            break
        pieces.append(piece)
        size += len(piece)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def _declared_length(request):
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _callback_fields(request, body):
    """(status, videoNo) from the body, checked; CallbackRefused says what is wrong."""
    payload = _callback_payload(request, body)
    api_status = payload.get("status")
    video_no = payload.get("videoNo", "")
    if not isinstance(api_status, str) or api_status not in API_STATUS_TO_STATUS:
        raise CallbackRefused("status must be UNPARSE, PARSE or PARSE_ERROR.")
    # memories.ai names the video in every callback (docs/memories-api.md): a status without
    # it could be about any video, so it moves nothing.
    if video_no is None or video_no == "":
        raise CallbackRefused("videoNo is missing: a callback names its video.")
    # Letters, digits and a little punctuation: nothing a database refuses (NUL)
    # or a page shows oddly reaches the timeline.
    if isinstance(video_no, bool) or not isinstance(video_no, str | int):
        raise CallbackRefused("videoNo must be a short string.")
    video_no = str(video_no)
    if not VIDEO_NO.fullmatch(video_no):
        raise CallbackRefused("videoNo must be a short string.")
    return api_status, video_no


SEND_JSON = 'Send JSON {"videoNo": ..., "status": ...}.'


def _callback_payload(request, body):
    """The callback's fields from a JSON body or form fields, as a dict."""
    if request.content_type == "application/json" or body[:1] in (b"{", b"["):
        try:
            payload = json.loads(body)
        except UnicodeDecodeError as exc:
            raise CallbackRefused(f"The body is not UTF-8 text. {SEND_JSON}") from exc
        except ValueError as exc:
            raise CallbackRefused(f"The body is not valid JSON ({exc}). {SEND_JSON}") from exc
        except RecursionError as exc:
            raise CallbackRefused(f"The JSON nests too deeply. {SEND_JSON}") from exc
        if not isinstance(payload, dict):
            raise CallbackRefused(f"The JSON is not an object. {SEND_JSON}")
        return payload
    try:
        fields = _form_fields(request, body)
    except (MultiPartParserError, SuspiciousOperation, ValueError) as exc:
        raise CallbackRefused(f"The form data could not be read ({exc}). {SEND_JSON}") from exc
    return {key: fields.get(key) for key in ("videoNo", "status") if key in fields}


def _form_fields(request, body):
    """Form fields from the body already read, as Django would find them in request.POST."""
    if request.content_type == "application/x-www-form-urlencoded":
        return QueryDict(body, encoding=request.encoding)
    if request.content_type == "multipart/form-data":
        meta = {**request.META, "CONTENT_LENGTH": str(len(body))}
        fields, _files = MultiPartParser(
            meta, io.BytesIO(body), request.upload_handlers, request.encoding
        ).parse()
        return fields
    return {}
