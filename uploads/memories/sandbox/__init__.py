"""A strict local imitation of the memories.ai API: "the sandbox".

It is the portal's demo backend and its test backend. Tests talk to it over
real HTTP on loopback, so it must refuse what the real API would refuse, with
the code the real API would give (docs/memories-api.md; where the API's
documentation is silent, that page says what the sandbox assumes).

Standard library only, and nothing from the portal (no `uploads.*`, no
Django): the sandbox is written from the documentation, so it cannot agree
with the portal's client by accident.

    with Sandbox(port=0, callback_delay=0.1, parse_delay=0.1) as sb:
        requests.post(sb.url + "/serve/api/v1/upload_url", ...)

Several accounts share one address, each known by its key, as at memories.ai:
`sb.add_account("sk-mavi-other", uploads_per_interval=2)` returns the other
account (its own limits, videos, faults and switches); a request is that
account's when it carries its key. Each account has switches that stay
until turned off: `credits_out` (uploads answered 0402), `key_revoked`
(every request answered 0401) and `slow_list` (seconds: list_videos answered
that late, 0 for at once).
"""

from .server import Sandbox
from .wire import ANSWER_FAULTS, FAULTS, STATUSES, ApiError, Reply, Request, UploadRecord

__all__ = [
    "ANSWER_FAULTS",
    "FAULTS",
    "STATUSES",
    "ApiError",
    "Reply",
    "Request",
    "Sandbox",
    "UploadRecord",
]
