"""What the sandbox says and keeps: the envelope codes, the faults, requests and replies,
the record of each upload. Standard library only, like the whole sandbox."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

API_PREFIX = "/serve/api/v1/"
STATUSES = ("UNPARSE", "PARSE", "PARSE_ERROR")

# Envelope codes of the string style, their usual messages, and the HTTP-style
# integers the newer documentation uses instead.
MESSAGES = {
    "0000": "success",
    "0001": "parameter error",
    "0003": "parameter error",
    "0401": "authorization invalid or incorrect",
    "0402": "not enough points",
    "0403": "developer account disabled",
    "0404": "not found",
    "0405": "method not allowed",
    "0409": "duplicate request not allowed",
    "0429": "rate limit exceeded",
    "0500": "server error",
    "9009": "permission denied, check the api key",
}
INT_CODES = {
    "0000": 200,
    "0001": 400,
    "0003": 400,
    "0401": 401,
    "0402": 402,
    "0403": 403,
    "0404": 404,
    "0405": 405,
    "0409": 409,
    "0429": 429,
    "0500": 500,
    "9009": 403,
}
# For faults given as integers: 400 and 403 are ambiguous, take the common one.
STRING_CODES = {v: k for k, v in reversed(INT_CODES.items())}

# Faults that replace or disturb the answer of one upload request.
ANSWER_FAULTS = {
    "rate_limit",
    "code",
    "http_500",
    "http_502",
    "http_503",
    "http_504",
    "slow",
    "trickle",
    "malformed",
    "drop",
}
FAULTS = ANSWER_FAULTS | {"parse_error"}
# What a proxy in front of the API answers, not the API itself.
PROXY_PAGES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Time-out",
}
# 500 and 504 may come after the API did the work, so the upload "reached" it.
POSSIBLY_PROCESSED = {"http_500", "http_504"}


@dataclass(frozen=True)
class UploadRecord:
    """One upload_url request that reached the sandbox, and what it answered."""

    received_at: float  # time.monotonic() when the request was judged
    fields: dict[str, list[str]]
    code: str  # string-style code ("0000", "0429", ...) or "http_500"/"http_504"
    video_no: str | None
    # The code as sent: equals `code` in string style, an int in int style, and
    # the HTTP status for the proxy faults.
    wire_code: str | int = ""

    @property
    def accepted(self) -> bool:
        return self.code == "0000"


class ApiError(Exception):
    """A refusal, answered with an envelope."""

    def __init__(self, code: str, msg: str | None = None, int_code: int | None = None):
        super().__init__(msg)
        self.code = code
        self.msg = msg or MESSAGES.get(code, "error")
        self.int_code = int_code or INT_CODES.get(code, 500)


def param_error(msg: str) -> ApiError:
    return ApiError("0001", msg)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    drop: bool = False  # close the socket without answering
    delay: float = 0.0  # sleep before answering
    trickle: float = 0.0  # seconds between the answer's bytes (0: all at once)

    @classmethod
    def of_json(cls, status: int, payload) -> Reply:
        return cls(status, json.dumps(payload).encode())


@dataclass
class Fault:
    times: int | None  # None: until cleared
    params: dict = field(default_factory=dict)


def string_code(code: str | int) -> str:
    if isinstance(code, int):
        return STRING_CODES.get(code, "0500")
    return code


def max_in_window(times: list[float], seconds: float) -> int:
    """Largest number of `times` inside any half-open window of length `seconds`."""
    times = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= seconds:
            first += 1
        best = max(best, last - first + 1)
    return best
