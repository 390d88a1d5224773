"""The one door to memories.ai.

Plain data in, plain data or typed errors out; no Django models, no retries
(the dispatcher decides what to do with each outcome). Nothing else in the
project builds HTTP requests to memories.ai. The API, every code and the
outcome it becomes, and what the portal assumes where the documentation is
silent: docs/memories-api.md.
"""

import json
import time
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3.exceptions

from .. import metrics
from ..deadline import Deadline, DeadlineAdapter

UPLOAD_URL_PATH = "/serve/api/v1/upload_url"
LIST_VIDEOS_PATH = "/serve/api/v1/list_videos"
GET_METADATA_PATH = "/serve/api/v1/get_metadata"

# Both styles the documentation uses: "0000"-style strings and HTTP-style ints.
SUCCESS_CODES = {"0000", "200"}
RATE_LIMITED_CODES = {"0429", "429"}
INVALID_CODES = {"0001", "0003", "400", "405", "415", "0409", "409"}
ACCOUNT_CODES = {"0401", "0402", "0403", "9009", "401", "402", "403"}
# HTTP statuses that a gateway answers before the request reached the service.
NOT_TAKEN_HTTP = {502, 503}


@dataclass(frozen=True)
class UploadRequest:
    url: str
    unique_id: str
    callback: str = ""
    datetime_taken: str = ""
    camera_model: str = ""
    latitude: str = ""
    longitude: str = ""
    tags: list[str] = field(default_factory=list)
    retain_original_video: bool = False
    video_transcription_prompt: str = ""

    def form_fields(self) -> list[tuple[str, str]]:
        """The wire format: form fields, tags as a repeated field, empty ones left out."""
        fields = [("url", self.url), ("unique_id", self.unique_id)]
        for name in (
            "callback",
            "datetime_taken",
            "camera_model",
            "latitude",
            "longitude",
            "video_transcription_prompt",
        ):
            value = getattr(self, name)
            if value:
                fields.append((name, value))
        fields.extend(("tags", tag) for tag in self.tags)
        fields.append(("retain_original_video", "true" if self.retain_original_video else "false"))
        return fields


@dataclass(frozen=True)
class Accepted:
    video_no: str
    video_name: str
    video_status: str
    upload_time: str


@dataclass(frozen=True)
class VideoStatus:
    video_no: str
    status: str


class MemoriesError(Exception):
    """Base of every failure the client reports."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code


class NotSent(MemoriesError):
    """memories.ai certainly did not take the request: safe to try again."""


class RateLimited(NotSent):
    """memories.ai answered "too busy / rate limit exceeded"."""


class InvalidRequest(MemoriesError):
    """memories.ai refused this request's parameters: permanent for it."""


class AccountProblem(MemoriesError):
    """Bad key, no credits, disabled account: every request will fail alike."""


class UnknownOutcome(MemoriesError):
    """The request left, and no clear answer came back: it may have been taken."""


class Misconfigured(AccountProblem):
    """The API address or key cannot be used at all: nothing was sent, nothing will be."""


class UnexpectedAnswer(MemoriesError):
    """A success whose data has not the documented shape: never read as "nothing"."""


class MemoriesClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        deadline: float | None = None,
        account: str = "",
    ):
        self.base_url = base_url.rstrip("/")
        # The account's name, for the answers' counter (never the key).
        self.account = account
        self.timeout = (connect_timeout, read_timeout)
        # The whole exchange, however the answer trickles in: read_timeout
        # bounds each read, not the request, and a sending worker's lease must
        # outlast its request.
        self.deadline = deadline or connect_timeout + read_timeout
        self.session = requests.Session()
        self.session.mount("http://", DeadlineAdapter())
        self.session.mount("https://", DeadlineAdapter())
        # No proxies or .netrc credentials from the environment.
        self.session.trust_env = False
        # On the session, not in each call's arguments: an error report shows
        # the local variables of every frame, and no frame holds the key.
        self.session.headers["Authorization"] = api_key

    def __repr__(self) -> str:
        # Never the key.
        return f"<MemoriesClient {self.base_url}>"

    def upload_url(self, upload: UploadRequest, *, leave_by: float | None = None) -> Accepted:
        """Upload one URL. `leave_by` (time.monotonic()): if the request cannot leave by
        then (the process was held up), it is not sent at all: NotSent."""
        # A fresh connection for each upload: a stale pooled connection would
        # fail in a way indistinguishable from a dropped answer.
        data = self._call(
            "POST",
            UPLOAD_URL_PATH,
            data=upload.form_fields(),
            headers={"Connection": "close"},
            leave_by=leave_by,
        )
        if not isinstance(data, dict) or not data.get("videoNo"):
            raise UnknownOutcome("memories.ai answered success without a video number.")
        return Accepted(
            video_no=str(data["videoNo"]),
            video_name=str(data.get("videoName") or ""),
            video_status=str(data.get("videoStatus") or "UNPARSE"),
            upload_time=str(data.get("uploadTime") or ""),
        )

    def list_videos(
        self, unique_id: str, video_nos: list[str], *, page: int = 1, size: int = 200
    ) -> list[VideoStatus]:
        data = self._call(
            "POST",
            LIST_VIDEOS_PATH,
            json={"page": page, "size": size, "unique_id": unique_id, "video_nos": video_nos},
        )
        videos = data.get("videos") if isinstance(data, dict) else None
        if not isinstance(videos, list) or not all(
            isinstance(v, dict) and v.get("video_no") for v in videos
        ):
            raise UnexpectedAnswer(
                "memories.ai answered list_videos without a list of videos with video numbers."
            )
        return [
            VideoStatus(video_no=str(v["video_no"]), status=str(v.get("status"))) for v in videos
        ]

    def get_metadata(self, video_no: str, unique_id: str) -> VideoStatus:
        data = self._call(
            "GET", GET_METADATA_PATH, params={"video_no": video_no, "unique_id": unique_id}
        )
        if not isinstance(data, dict) or not isinstance(data.get("status"), str):
            raise UnexpectedAnswer("memories.ai answered get_metadata without the video's status.")
        return VideoStatus(video_no=str(data.get("video_no") or video_no), status=data["status"])

    def _call(self, method: str, path: str, **kwargs: Any) -> object:
        """The envelope's `data` (JSON: callers check its shape), or a MemoriesError."""
        try:
            return self._request(method, path, **kwargs)
        except MemoriesError as exc:
            # Messages are shown, stored and logged: one that quotes the key
            # (memories.ai's, or requests' about a malformed header) must not.
            exc.message = self._hide_key(exc.message)
            exc.args = (exc.message,)
            raise

    def _hide_key(self, text: str) -> str:
        key = self.session.headers["Authorization"]  # set as text in __init__
        return text.replace(key, "[API key]") if isinstance(key, str) and key else text

    def _request(
        self, method: str, path: str, leave_by: float | None = None, **kwargs: Any
    ) -> object:
        if leave_by is not None and time.monotonic() > leave_by:
            raise NotSent("Not sent: the request could not leave in time (the worker was held up).")
        deadline = Deadline(self.deadline)
        try:
            with deadline:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    timeout=self.timeout,
                    allow_redirects=False,
                    **kwargs,
                )
        except requests.exceptions.RequestException as exc:
            metrics.memories_answer("none", self.account)
            if deadline.fired:
                raise UnknownOutcome(
                    f"memories.ai did not finish answering within {self.deadline:g} s."
                ) from exc
            raise _failure(exc) from exc
        return _parse_envelope(response, self.account)


def _failure(exc: requests.exceptions.RequestException) -> MemoriesError:
    """What a requests exception means for whether memories.ai took the request."""
    if isinstance(exc, requests.exceptions.InvalidHeader):
        # Not requests' message: it quotes the header's value, the key.
        return Misconfigured(
            "The API key cannot be used: it holds a line break or other characters "
            "a header cannot carry."
        )
    if isinstance(exc, UNUSABLE_CONFIGURATION):
        return Misconfigured(f"The API address cannot be used: {exc}")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return NotSent("Could not connect to memories.ai (timed out).")
    if isinstance(exc, requests.exceptions.SSLError):
        return NotSent("The TLS handshake with memories.ai failed.")
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _never_connected(exc):
            return NotSent("Could not connect to memories.ai.")
        return UnknownOutcome("The connection to memories.ai dropped before it answered.")
    if isinstance(exc, requests.exceptions.Timeout):
        return UnknownOutcome("memories.ai did not answer in time.")
    return UnknownOutcome(f"The answer from memories.ai could not be read ({exc}).")


# What requests refuses before anything is sent: an address without a scheme or
# host, a key that is no valid header value.
UNUSABLE_CONFIGURATION = (
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
)


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never made (DNS failure, refused, unreachable)."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError wraps the cause
    return isinstance(
        reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.NameResolutionError
    )


def _parse_envelope(response: requests.Response, account: str = "") -> object:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        body = None
    code = str(body.get("code", "")).strip() if isinstance(body, dict) else ""
    message = str(body.get("msg") or "") if isinstance(body, dict) else ""
    metrics.memories_answer(code or f"HTTP {response.status_code}", account)

    if code in RATE_LIMITED_CODES or response.status_code == 429:
        raise RateLimited(message or "memories.ai is busy (rate limit).", code or "429")
    if not code:
        if response.status_code in NOT_TAKEN_HTTP:
            raise NotSent(f"memories.ai was unavailable (HTTP {response.status_code}).")
        raise UnknownOutcome(
            f"memories.ai answered HTTP {response.status_code} without a readable result."
        )
    if code in SUCCESS_CODES:
        return body.get("data")
    if code in ACCOUNT_CODES:
        raise AccountProblem(message or f"memories.ai refused the account (code {code}).", code)
    if code in INVALID_CODES:
        raise InvalidRequest(message or f"memories.ai refused the request (code {code}).", code)
    if code in {"500", "504"}:
        raise UnknownOutcome(f"memories.ai answered with a server error (code {code}).", code)
    if code in {"502", "503"}:
        raise NotSent(f"memories.ai was unavailable (code {code}).", code)
    raise UnknownOutcome(message or f"memories.ai answered an unknown code {code}.", code)
