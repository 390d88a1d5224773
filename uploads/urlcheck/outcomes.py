"""What a check of a user's URL can say: its refusals and its findings.

Plain data, no network: `probe` raises and returns these, the form, the sender and the
webhook delivery read them. `ProbeRefused` cannot be overridden (internal address, web
page, too large, relative playlist paths...); `ProbeUnreachable` can (the person may
confirm the URL is publicly reachable: our network may simply not see it).
"""

from __future__ import annotations

from dataclasses import dataclass

_SHOWN_URL_LIMIT = 100


class ProbeError(Exception):
    """Base of the probe's errors; `message` is a sentence for the person who submitted."""

    def __init__(self, message: str, *, line_no: int | None = None, line: str | None = None):
        super().__init__(message)
        self.message = message
        self.line_no = line_no  # for playlist errors: the line at fault
        self.line = line


class ProbeRefused(ProbeError):
    """The URL must not be sent; no confirmation can override this."""


class ProbeRedirected(ProbeRefused):
    """A POST was answered with a redirect, which is not followed; `status_code` says which."""

    def __init__(self, message: str, status_code: int):
        super().__init__(message)
        self.status_code = status_code


class ProbeUnreachable(ProbeError):
    """The URL did not answer well from here; the person may confirm it is publicly reachable."""


@dataclass
class ProbeResult:
    final_url: str  # after redirects
    content_type: str | None
    size: int | None  # bytes of a direct file, when the server says
    is_playlist: bool
    variant_count: int = 0
    segment_count: int = 0
    duration: float | None = None  # seconds, playlists only
    estimated_size: int | None = None  # bytes
    estimate_method: str = ""  # how estimated_size was found, in words


@dataclass
class PostResult:
    status_code: int
    body: bytes  # the start of the answer, at most `max_bytes`
    seconds: float


def shown(url: str) -> str:
    """A URL as a message quotes it: cut to a readable length."""
    return url if len(url) <= _SHOWN_URL_LIMIT else url[: _SHOWN_URL_LIMIT - 1] + "…"
