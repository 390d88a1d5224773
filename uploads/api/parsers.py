"""Request bodies the API reads: JSON, and CSV for a batch. Each reads at most
API_MAX_BODY_BYTES (413 beyond), whatever Content-Length says; Django's own
DATA_UPLOAD_MAX_MEMORY_SIZE stays the pages' limit."""

import json

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.request import Request

from .. import bodies
from .errors import LengthRequired, PayloadTooLarge


class ChunkedRequest(Request):
    """REST framework's request, with a chunked body read from the server's input
    (uploads/bodies.py): REST framework itself sees no body where no length is given,
    and would read an 11 MB chunked body as empty rather than as too large."""

    def _load_stream(self):
        if not bodies.is_chunked(self._request.META):
            return super()._load_stream()
        try:
            self._stream = bodies.chunked_input(self._request.META)
        except bodies.LengthRequired as exc:
            raise LengthRequired(exc.message) from None


def read_body(stream, meta):
    limit = settings.API_MAX_BODY_BYTES
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise PayloadTooLarge(f"The body is {declared:,} bytes; at most {limit:,} are read.")
    body = stream.read(limit + 1) if stream is not None else b""
    if len(body) > limit:
        raise PayloadTooLarge(f"The body is larger than {limit:,} bytes, the most read.")
    return body


def _text(body, what):
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError(f"The {what} body is not UTF-8.") from None


class LimitedJSONParser(parsers.BaseParser):
    """JSON, read from the request's stream (REST framework's own JSONParser reads
    `request.body`, which holds it to the pages' DATA_UPLOAD_MAX_MEMORY_SIZE)."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        request = parser_context["request"]
        text = _text(read_body(stream, request.META), "JSON")
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise ParseError(f"The body is not valid JSON: {exc}.") from None
        except RecursionError:
            raise ParseError("The JSON nests too deeply.") from None
        if "\\ud" in text.lower():
            _refuse_lone_surrogates(data)
        return data


class CSVParser(parsers.BaseParser):
    """A batch's CSV file as the body (text/csv): handed on as bytes, read by
    uploads/batches/reading.py as the page reads an upload."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        return read_body(stream, parser_context["request"].META)


def _refuse_lone_surrogates(data):
    """A \\ud800-style escape without its pair is no text: no database stores it."""
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ParseError("The JSON holds a lone UTF-16 surrogate (\\ud800 to \\udfff).") from None


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")
