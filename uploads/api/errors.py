"""Every error of the API as application/problem+json (RFC 9457): `type`, `title`,
`status`, `detail`, and `errors` ({field: [messages]}) when fields are wrong."""

from http import HTTPStatus

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

PROBLEM = "application/problem+json"
# The form's errors that concern no one field.
GENERAL = "__all__"


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The body is too large."
    default_code = "too_large"


class LengthRequired(exceptions.APIException):
    status_code = 411
    default_code = "length_required"


class Conflict(exceptions.APIException):
    """The object is not in a state that allows this (a submission that no longer waits)."""

    status_code = 409
    default_code = "conflict"


def problem(status, detail, *, errors=None, code=None, headers=None):
    """A problem+json response."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": str(detail),
    }
    if code:
        body["code"] = code
    if errors:
        body["errors"] = errors
    return Response(body, status=status, headers=headers, content_type=PROBLEM)


def invalid(errors, detail="The request has errors: see `errors`."):
    """400 with a form's errors ({field: [messages]}, GENERAL for the whole request)."""
    return problem(400, detail, errors=errors, code="invalid")


def form_errors(form):
    """A Django form's errors, as `errors`."""
    return {
        field: [str(message) for message in messages] for field, messages in form.errors.items()
    }


def problem_handler(exc, context):
    """REST framework's exception handler, answering problem+json (settings.REST_FRAMEWORK)."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if str(exc) else None)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) if str(exc) else None)
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: a bug, left to Django (and seen by the tests)
    detail, errors = exc.detail, None
    if isinstance(detail, dict | list):
        errors = _flatten(detail)
        detail = "; ".join(errors.pop(GENERAL)) if list(errors) == [GENERAL] else "See `errors`."
    code = exc.get_codes() if not isinstance(exc.detail, dict | list) else "invalid"
    answer = problem(response.status_code, detail, errors=errors, code=code)
    for name in ("WWW-Authenticate", "Retry-After", "Allow"):
        if name in response.headers:
            answer[name] = response[name]
    return answer


def _flatten(detail):
    if isinstance(detail, list):
        return {GENERAL: [str(item) for item in detail]}
    return {
        field: [str(item) for item in (value if isinstance(value, list) else [value])]
        for field, value in detail.items()
    }
