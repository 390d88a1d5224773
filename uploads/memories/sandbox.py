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

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import itertools
import json
import random
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
DATETIME_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
DECIMAL_SHAPE = re.compile(r"[+-]?\d{1,3}(\.\d+)?")
INDEXED_TAG = re.compile(r"tags\[(\d+)\]")
SINGLE_FIELDS = (
    "url",
    "callback",
    "unique_id",
    "datetime_taken",
    "camera_model",
    "latitude",
    "longitude",
    "retain_original_video",
    "video_transcription_prompt",
)
MAX_PAGE_SIZE = 200
# path below API_PREFIX -> (method, Sandbox method answering it)
ROUTES = {
    "upload_url": ("POST", "_upload_url"),
    "list_videos": ("POST", "_list_videos"),
    "get_metadata": ("GET", "_get_metadata"),
    "list_unique_ids": ("GET", "_list_unique_ids"),
}


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


class Sandbox:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = "sk-mavi-sandbox",
        uploads_per_interval: int = 1,
        rate_interval: float = 60.0,
        callback_delay: float = 2.0,
        parse_delay: float = 2.0,
        callbacks_enabled: bool = True,
        list_rate_per_second: float = 5.0,
        code_style: str = "string",
    ):
        if code_style not in ("string", "int"):
            raise ValueError("code_style must be 'string' or 'int'")
        self.host = host
        self.port = port
        self.api_key = api_key
        self.uploads_per_interval = uploads_per_interval
        self.rate_interval = rate_interval
        self.callback_delay = callback_delay
        self.parse_delay = parse_delay
        self.callbacks_enabled = callbacks_enabled
        self.list_rate_per_second = list_rate_per_second
        self.code_style = code_style
        # The account's switches (see the module's docstring).
        self.credits_out = False
        self.key_revoked = False
        self.slow_list = 0.0
        self.name = "default"

        self._lock = threading.RLock()
        # The other accounts on this address, by key (add_account); each is a Sandbox
        # that does not serve by itself: this one hands it the requests with its key.
        self._accounts: dict[str, Sandbox] = {}
        self._front: Sandbox | None = None
        self._uploads: list[UploadRecord] = []
        self._videos: dict[str, dict] = {}
        self._doomed: set[str] = set()  # videos that will end PARSE_ERROR
        self._faults: dict[str, Fault] = {}
        self._fault_hits: dict[str, int] = {}
        self._list_times: list[float] = []  # every list_videos request
        self._list_served: list[float] = []  # the ones not refused with 0429
        self._callbacks: list[tuple[str, str, int | str]] = []
        self._timers: set[threading.Timer] = set()
        # Video numbers look like the real ones ("VI" + 18 digits) and never repeat.
        self._video_seq = itertools.count(random.randrange(10**17, 5 * 10**17))
        # A proxy in the environment must not swallow callbacks to loopback.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    # ---- lifecycle -------------------------------------------------------

    def start(self) -> Sandbox:
        self._server = _Server((self.host, self.port), _Handler)
        self._server.sandbox = self
        self.port = self._server.server_address[1]
        # A short poll interval makes stop() quick, which test suites notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=f"sandbox:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        for account in self.accounts:
            account.stop()
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.close_connections()
            self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._front is not None:
            return self._front.url
        return f"http://{self.host}:{self.port}"

    # ---- accounts --------------------------------------------------------

    def add_account(self, api_key: str, name: str | None = None, **options) -> Sandbox:
        """Another account at this address: its own key, upload and list limits, videos,
        faults and switches. Options are the constructor's (by default this one's)."""
        defaults = {
            "uploads_per_interval": self.uploads_per_interval,
            "rate_interval": self.rate_interval,
            "callback_delay": self.callback_delay,
            "parse_delay": self.parse_delay,
            "callbacks_enabled": self.callbacks_enabled,
            "list_rate_per_second": self.list_rate_per_second,
            "code_style": self.code_style,
        }
        # Of this one's class: a subclass that watches its requests watches every account.
        account = type(self)(api_key=api_key, **{**defaults, **options})
        account.name = name or f"account{len(self._accounts) + 2}"
        account._front = self
        with self._lock:
            if api_key == self.api_key or api_key in self._accounts:
                raise ValueError("each account has a key of its own")
            self._accounts[api_key] = account
        return account

    @property
    def accounts(self) -> list[Sandbox]:
        """The other accounts (add_account), not this one."""
        with self._lock:
            return list(self._accounts.values())

    def account(self, name: str) -> Sandbox | None:
        """This account or another, by name."""
        return next((a for a in [self, *self.accounts] if a.name == name), None)

    # ---- faults ----------------------------------------------------------

    def set_fault(self, name: str, times: int | None = None, **params) -> None:
        """Disturb the next `times` upload requests (None: until cleared).

        For "parse_error", `times` counts accepted videos instead.
        """
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {sorted(FAULTS)}")
        if name == "slow":
            params["seconds"] = float(params.get("seconds", 5.0))
        if name == "trickle":
            params["seconds_per_byte"] = float(params.get("seconds_per_byte", 1.0))
        if name == "code":
            if "code" not in params:
                raise ValueError("the 'code' fault needs code=...")
            params["code"] = _string_code(params["code"])
        if times is not None and times < 1:
            raise ValueError("times must be None or at least 1")
        with self._lock:
            self._faults.pop(name, None)  # re-setting moves it to the end
            self._faults[name] = Fault(times, params)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, names) -> tuple[str, dict] | None:
        """Use up one turn of the first active fault among `names`."""
        with self._lock:
            for name, fault in list(self._faults.items()):
                if name not in names:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        del self._faults[name]
                self._fault_hits[name] = self._fault_hits.get(name, 0) + 1
                return name, fault.params
        return None

    # ---- inspection --------------------------------------------------------

    @property
    def uploads(self) -> list[UploadRecord]:
        with self._lock:
            return list(self._uploads)

    @property
    def accepted(self) -> list[UploadRecord]:
        return [r for r in self.uploads if r.accepted]

    def count(self, code: str | int) -> int:
        """How many upload answers carried `code` ("0429"; 429 in int style)."""
        if isinstance(code, int):
            return sum(1 for r in self.uploads if r.wire_code == code)
        return sum(1 for r in self.uploads if r.code == code)

    def max_accepted_in_window(self, seconds: float) -> int:
        return _max_in_window([r.received_at for r in self.accepted], seconds)

    @property
    def videos(self) -> dict[str, dict]:
        with self._lock:
            return {no: dict(video) for no, video in self._videos.items()}

    def set_video_status(self, video_no: str, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        with self._lock:
            self._videos[video_no]["status"] = status

    @property
    def callbacks_sent(self) -> list[tuple[str, str, int | str]]:
        with self._lock:
            return list(self._callbacks)

    @property
    def list_requests(self) -> int:
        with self._lock:
            return len(self._list_times)

    def max_list_in_window(self, seconds: float = 1.0) -> int:
        """Largest number of list_videos requests (refused ones too) in any window."""
        with self._lock:
            times = list(self._list_times)
        return _max_in_window(times, seconds)

    def stats(self) -> dict:
        uploads = self.uploads
        codes: dict[str, int] = {}
        for record in uploads:
            codes[record.code] = codes.get(record.code, 0) + 1
        statuses: dict[str, int] = {}
        for video in self.videos.values():
            statuses[video["status"]] = statuses.get(video["status"], 0) + 1
        with self._lock:
            faults = {name: fault.times for name, fault in self._faults.items()}
            fault_hits = dict(self._fault_hits)
        return {
            "uploads": len(uploads),
            "accepted": codes.get("0000", 0),
            "codes": codes,
            "max_accepted_in_rate_interval": self.max_accepted_in_window(self.rate_interval),
            "list_requests": self.list_requests,
            "max_list_in_1s": self.max_list_in_window(1.0),
            "callbacks_sent": len(self.callbacks_sent),
            "videos": statuses,
            "faults": faults,
            "fault_hits": fault_hits,
        }

    def wait_until(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    # ---- the API -----------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/_sandbox/"):
            return self._control(request)
        other = self._accounts.get(request.headers.get("authorization"))
        if other is not None:
            return other.handle(request)
        name = request.path.removeprefix(API_PREFIX)
        route = ROUTES.get(name) if request.path.startswith(API_PREFIX) else None
        if route == ("POST", "_upload_url") and request.method == "POST":
            return self._upload_url(request)  # it records every answer, refusals too
        if route == ("POST", "_list_videos"):
            self._note_list_request()
        try:
            self._check_auth(request)  # before anything else, as the real API does
            if route is None:
                return self._envelope(ApiError("0404", f"no such path: {request.path}"), 404)
            method, endpoint = route
            if request.method != method:
                return self._envelope(ApiError("0405", f"use {method}"), 405)
            reply = self._envelope_ok(getattr(self, endpoint)(request))
        except ApiError as error:
            return self._envelope(error)
        if endpoint == "_list_videos":
            reply.delay = self.slow_list  # the switch: a list that hangs on this account only
        return reply

    def _check_auth(self, request: Request) -> None:
        # The raw key, exactly: "Bearer <key>" is refused like a wrong key.
        if request.headers.get("authorization") != self.api_key or self.key_revoked:
            raise ApiError("0401")

    # upload_url ------------------------------------------------------------

    def _upload_url(self, request: Request) -> Reply:
        fault = self._take_fault(ANSWER_FAULTS)
        name, params = fault or (None, {})
        if name and name.startswith("http_"):
            return self._proxy_failure(request, name)
        fields, form_error = _read_form(request)
        upload, error = None, None
        # The order of the checks: key, faults, body, fields, then the rate
        # limit, so that refusals take no slot.
        try:
            self._check_auth(request)
            if self.credits_out:
                raise ApiError("0402")
            if name == "rate_limit":
                raise ApiError("0429")
            if name == "code":
                raise ApiError(params["code"], params.get("msg"))
            if form_error:
                raise form_error
            upload = _validate_upload(fields)
        except ApiError as refusal:
            error = refusal
        video = None
        with self._lock:  # the rate check and the store are one step
            now = time.monotonic()
            if upload is not None and self._upload_window_full(now):
                error = ApiError("0429")
            elif upload is not None:
                video = self._store_video(upload)
            self._record_upload(now, fields, error, video)
        if video is None:
            return _disturb(self._envelope(error), name, params)
        self._schedule_processing(video["video_no"])
        return _disturb(self._envelope_ok(_upload_data(video)), name, params)

    def _proxy_failure(self, request: Request, name: str) -> Reply:
        status = int(name.removeprefix("http_"))
        if name in POSSIBLY_PROCESSED:
            fields, _ = _read_form(request)
            with self._lock:
                record = UploadRecord(time.monotonic(), fields, name, None, status)
                self._uploads.append(record)
        page = f"<html><head><title>{status} {PROXY_PAGES[status]}</title></head></html>\n"
        return Reply(status, page.encode(), "text/html")

    def _upload_window_full(self, now: float) -> bool:
        # Sliding window over accepted uploads; refusals take no slot.
        since = now - self.rate_interval
        recent = sum(1 for r in self._uploads if r.accepted and r.received_at > since)
        return recent >= self.uploads_per_interval

    def _store_video(self, upload: dict) -> dict:
        video_no = f"VI{next(self._video_seq):018d}"
        video = {
            "video_no": video_no,
            "video_name": uuid.uuid4().hex,
            "status": "UNPARSE",
            "duration": "0",
            "size": "0",
            "create_time": str(int(time.time() * 1000)),
            **upload,
        }
        self._videos[video_no] = video
        if self._take_fault({"parse_error"}):
            self._doomed.add(video_no)
        return video

    def _record_upload(self, now, fields, error: ApiError | None, video: dict | None) -> None:
        code = error.code if error else "0000"
        int_code = error.int_code if error else 200
        wire_code = int_code if self.code_style == "int" else code
        video_no = video["video_no"] if video else None
        self._uploads.append(UploadRecord(now, fields, code, video_no, wire_code))

    # processing and callbacks -----------------------------------------------

    def _schedule_processing(self, video_no: str) -> None:
        self._later(self.callback_delay, self._announce, video_no, "UNPARSE")
        self._later(self.callback_delay + self.parse_delay, self._finish_parsing, video_no)

    def _later(self, delay: float, function, *args) -> None:
        timer = threading.Timer(delay, function, args)
        timer.daemon = True
        with self._lock:
            if self._stopped:
                return
            self._timers = {t for t in self._timers if t.is_alive()}
            self._timers.add(timer)
        timer.start()

    def _finish_parsing(self, video_no: str) -> None:
        with self._lock:
            video = self._videos[video_no]
            # A status forced with set_video_status() wins over the schedule.
            if video["status"] == "UNPARSE":
                failed = video_no in self._doomed
                video["status"] = "PARSE_ERROR" if failed else "PARSE"
                if not failed:
                    video["duration"], video["size"] = "12", "1048576"
            status = video["status"]
        self._announce(video_no, status)

    def _announce(self, video_no: str, status: str) -> None:
        with self._lock:
            callback = self._videos[video_no].get("callback")
        if not callback or not self.callbacks_enabled or self._stopped:
            return
        payload = json.dumps({"videoNo": video_no, "status": status}).encode()
        # The scheme was checked to be http(s) when the upload was accepted.
        post = urllib.request.Request(  # noqa: S310
            callback, payload, {"Content-Type": "application/json"}, method="POST"
        )
        try:
            with self._opener.open(post, timeout=5) as response:
                outcome: int | str = response.status
        except urllib.error.HTTPError as refused:
            outcome = refused.code
        except OSError as failure:  # the portal may be down: that is its problem
            outcome = f"{type(failure).__name__}: {failure}"
        with self._lock:
            self._callbacks.append((video_no, status, outcome))

    # list_videos, get_metadata, list_unique_ids -------------------------------

    def _note_list_request(self) -> None:
        with self._lock:
            self._list_times.append(time.monotonic())

    def _list_videos(self, request: Request) -> dict:
        query = _validate_list_query(_read_json(request))
        with self._lock:
            now = time.monotonic()
            recent = sum(1 for t in self._list_served if t > now - 1.0)
            if recent >= self.list_rate_per_second:
                raise ApiError("0429")
            self._list_served.append(now)
            videos = [v for v in self._videos.values() if _matches(v, query)]
        videos.sort(key=lambda v: v["video_no"], reverse=True)  # newest first
        page, size = query["page"], query["size"]
        return {
            "current_page": page,
            "page_size": size,
            "total_count": len(videos),
            "videos": [_list_item(v) for v in videos[(page - 1) * size : page * size]],
        }

    def _get_metadata(self, request: Request) -> dict:
        video_no = _single_query(request, "video_no")
        unique_id = _single_query(request, "unique_id", "default")
        if not video_no:
            raise param_error("video_no is required")
        with self._lock:
            video = self._videos.get(video_no)
            if video is None or video["unique_id"] != unique_id:
                raise param_error(f"video_no {video_no} not found in unique_id {unique_id}")
            return {**_list_item(video), "unique_id": unique_id, "url": video["url"]}

    def _list_unique_ids(self, request: Request) -> list[str]:
        with self._lock:
            return sorted({v["unique_id"] for v in self._videos.values()})

    # envelopes ---------------------------------------------------------------

    def _envelope_ok(self, data) -> Reply:
        code = 200 if self.code_style == "int" else "0000"
        payload = {"code": code, "msg": "success", "data": data, "success": True, "failed": False}
        return Reply.of_json(200, payload)

    def _envelope(self, error: ApiError, http_status: int | None = None) -> Reply:
        # String style answers HTTP 200 even for errors; int style mirrors the code.
        if self.code_style == "int":
            code, status = error.int_code, error.int_code
        else:
            code, status = error.code, 200
        payload = {"code": code, "msg": error.msg, "data": None, "success": False, "failed": True}
        return Reply.of_json(http_status or status, payload)

    # control endpoints, for a sandbox running in another process ----------------

    def _control(self, request: Request) -> Reply:
        """Stats, faults and switches, of this account or (`/_sandbox/accounts/NAME/...`)
        another."""
        if request.path.startswith("/_sandbox/accounts/"):
            name, _, rest = request.path.removeprefix("/_sandbox/accounts/").partition("/")
            account = self.account(urllib.parse.unquote(name))
            if account is None:
                return Reply.of_json(404, {"ok": False, "error": f"no account {name!r}"})
            forwarded = Request(
                request.method, "/_sandbox/" + rest, request.query, request.headers, request.body
            )
            return account._control(forwarded)
        if request.path == "/_sandbox/stats" and request.method == "GET":
            return Reply.of_json(200, self.stats())
        if request.path == "/_sandbox/switches" and request.method == "POST":
            try:
                switches = json.loads(request.body)
                self.credits_out = bool(switches.get("credits_out", self.credits_out))
                self.key_revoked = bool(switches.get("key_revoked", self.key_revoked))
                self.slow_list = float(switches.get("slow_list", self.slow_list))
            except (ValueError, TypeError, AttributeError) as error:
                return Reply.of_json(400, {"ok": False, "error": str(error)})
            return Reply.of_json(200, {"ok": True})
        if request.path == "/_sandbox/faults" and request.method == "DELETE":
            self.clear_faults()
            return Reply.of_json(200, {"ok": True})
        if request.path == "/_sandbox/faults" and request.method == "POST":
            try:
                params = json.loads(request.body)
                self.set_fault(params.pop("name"), params.pop("times", None), **params)
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                return Reply.of_json(400, {"ok": False, "error": str(error)})
            return Reply.of_json(200, {"ok": True})
        return Reply.of_json(404, {"ok": False, "error": "no such control endpoint"})


# ---- request parsing and validation (pure functions) ------------------------


def _read_form(request: Request) -> tuple[dict[str, list[str]], ApiError | None]:
    """The form fields, and the refusal if the body is not a form."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        text = request.body.decode("utf-8", errors="replace")
        return urllib.parse.parse_qs(text, keep_blank_values=True), None
    if media_type == "multipart/form-data":
        return _parse_multipart(content_type, request.body), None
    if media_type == "application/json":
        # The seed page's curl example sends JSON; the API wants form fields.
        refusal = ApiError("0001", "request body must be form-encoded, not JSON", int_code=415)
        return {}, refusal
    if not request.body:
        return {}, None  # nothing sent: "url is required" will say what is missing
    return {}, ApiError("0001", f"unsupported content type {media_type!r}", int_code=415)


def _parse_multipart(content_type: str, body: bytes) -> dict[str, list[str]]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, list[str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            value = (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")
            fields.setdefault(name, []).append(value)
    return fields


def _validate_upload(fields: dict[str, list[str]]) -> dict:
    """The stored video's fields, or a 0001 refusal naming the bad field."""
    for name in SINGLE_FIELDS:
        if len(fields.get(name, [])) > 1:
            raise param_error(f"{name} must be given once")
    value = {name: values[0] for name, values in fields.items() if name in SINGLE_FIELDS}
    if not value.get("url"):
        raise param_error("url is required")
    _check_http_url("url", value["url"])
    if "callback" in value:
        _check_http_url("callback", value["callback"])
    unique_id = value.get("unique_id", "default")
    if not unique_id or len(unique_id) > 128:
        raise param_error("unique_id must be 1 to 128 characters")
    if "datetime_taken" in value:
        _check_datetime(value["datetime_taken"])
    _check_coordinates(value.get("latitude"), value.get("longitude"))
    return {
        "unique_id": unique_id,
        "url": value["url"],
        "callback": value.get("callback"),
        "datetime_taken": value.get("datetime_taken"),
        "camera_model": value.get("camera_model"),
        "latitude": value.get("latitude"),
        "longitude": value.get("longitude"),
        "tags": _tags(fields),
        "retain_original_video": _boolean("retain_original_video", value),
        "video_transcription_prompt": value.get("video_transcription_prompt"),
    }


def _check_http_url(name: str, url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", url):
        raise param_error(f"{name} must be an absolute http(s) URL")


def _check_datetime(text: str) -> None:
    try:
        if not DATETIME_SHAPE.fullmatch(text):
            raise ValueError(text)
        datetime.strptime(text, DATETIME_FORMAT)
    except ValueError:
        raise param_error("datetime_taken must look like 2025-10-20 11:00:00") from None


def _check_coordinates(latitude: str | None, longitude: str | None) -> None:
    if (latitude is None) != (longitude is None):
        missing = "longitude" if longitude is None else "latitude"
        raise param_error(f"latitude and longitude go together: {missing} is missing")
    for name, text, limit in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        if text is None:
            continue
        if not DECIMAL_SHAPE.fullmatch(text) or abs(float(text)) > limit:
            raise param_error(f"{name} must be decimal degrees between -{limit} and {limit}")


def _tags(fields: dict[str, list[str]]) -> list[str]:
    """Tags sent as `tags=a&tags=b`, or as `tags[0]=a&tags[1]=b`."""
    tags = list(fields.get("tags", []))
    indexed = []
    for name, values in fields.items():
        match = INDEXED_TAG.fullmatch(name)
        if match:
            indexed.extend((int(match.group(1)), v) for v in values)
        elif name.startswith("tags") and name != "tags":
            raise param_error(f"tags: unexpected field {name!r}")
    return tags + [v for _, v in sorted(indexed)]


def _boolean(name: str, value: dict) -> bool:
    text = value.get(name, "false").lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise param_error(f"{name} must be true or false")


def _read_json(request: Request) -> dict:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError("0001", "request body must be JSON", int_code=415)
    try:
        body = json.loads(request.body)
    except ValueError:
        raise param_error("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise param_error("request body must be a JSON object")
    return body


def _validate_list_query(body: dict) -> dict:
    page, size = body.get("page"), body.get("size")
    if not _is_int(page) or page < 1:
        raise param_error("page must be an integer >= 1")
    if not _is_int(size) or size < 1:
        raise param_error("size must be an integer > 0")
    unique_id = body.get("unique_id")
    if not isinstance(unique_id, str) or not unique_id:
        raise param_error("unique_id is required")
    video_nos = body.get("video_nos")
    if video_nos is not None and not (
        isinstance(video_nos, list) and all(isinstance(n, str) for n in video_nos)
    ):
        raise param_error("video_nos must be a list of strings")
    status = body.get("status")
    if status is not None and status not in STATUSES:
        raise param_error(f"status must be one of {', '.join(STATUSES)}")
    datetime_taken = body.get("datetime_taken")
    if datetime_taken is not None and not _is_int(datetime_taken):
        raise param_error("datetime_taken must be milliseconds since the epoch")
    return {**body, "size": min(size, MAX_PAGE_SIZE)}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _matches(video: dict, query: dict) -> bool:
    if video["unique_id"] != query["unique_id"]:
        return False
    exact = ("video_no", "video_name", "status", "camera_model")
    if any(query.get(name) is not None and video[name] != query[name] for name in exact):
        return False
    if query.get("video_nos") is not None and video["video_no"] not in query["video_nos"]:
        return False
    if query.get("tag") is not None and query["tag"] not in video["tags"]:
        return False
    taken = _taken_ms(video)
    since = query.get("datetime_taken")
    return since is None or (taken is not None and int(taken) >= since)


def _taken_ms(video: dict) -> str | None:
    # Stored as sent ("2025-10-20 11:00:00", taken as UTC); listed in ms, as filtered.
    if not video["datetime_taken"]:
        return None
    taken = datetime.strptime(video["datetime_taken"], DATETIME_FORMAT).replace(tzinfo=UTC)
    return str(int(taken.timestamp() * 1000))


def _list_item(video: dict) -> dict:
    item = {name: video[name] for name in ("video_no", "video_name", "duration", "size")}
    item.update(
        status=video["status"],
        create_time=video["create_time"],
        datetime_taken=_taken_ms(video),
        camera_model=video["camera_model"],
        latitude=video["latitude"],
        longitude=video["longitude"],
        tags=list(video["tags"]),
    )
    return item


def _upload_data(video: dict) -> dict:
    # camelCase here (and in callbacks), snake_case in list_videos: as documented.
    return {
        "videoNo": video["video_no"],
        "videoName": video["video_name"],
        "videoStatus": video["status"],
        "uploadTime": video["create_time"],
    }


def _single_query(request: Request, name: str, default: str | None = None) -> str | None:
    values = request.query.get(name)
    if not values:
        return default
    if len(values) > 1:
        raise param_error(f"{name} must be given once")
    return values[0]


def _disturb(reply: Reply, fault: str | None, params: dict) -> Reply:
    """Apply the faults that happen after the API did its work."""
    if fault == "slow":
        reply.delay = params["seconds"]
    elif fault == "trickle":
        # Accepted, and the answer comes one byte at a time: every read is
        # quick, the whole answer is not.
        reply.trickle = params["seconds_per_byte"]
    elif fault == "malformed":
        # A cut-off body: HTTP 200, and the client cannot know the upload worked.
        return Reply(200, b'{"code": "0000", "msg": "succ', "application/json")
    elif fault == "drop":
        reply.drop = True
    return reply


def _string_code(code: str | int) -> str:
    if isinstance(code, int):
        return STRING_CODES.get(code, "0500")
    return code


def _max_in_window(times: list[float], seconds: float) -> int:
    """Largest number of `times` inside any half-open window of length `seconds`."""
    times = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= seconds:
            first += 1
        best = max(best, last - first + 1)
    return best


# ---- HTTP plumbing -----------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: Sandbox

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up on kept-alive connections: a stopped sandbox answers nothing."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the client may have closed it already
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request, client_address) -> None:
        # A client that hung up (timeouts, dropped sockets) is normal here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "memories-sandbox"
    sys_version = ""
    timeout = 60  # idle keep-alive connections do not live forever
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=parts.path,
            query=urllib.parse.parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        reply = self.server.sandbox.handle(request)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            if self.close_connection:  # the client asked for "Connection: close"
                self.send_header("Connection", "close")
            self.end_headers()
            if reply.trickle:
                for byte in reply.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(reply.trickle)
            else:
                self.wfile.write(reply.body)
        except ConnectionError:
            self.close_connection = True  # the client gave up (e.g. a read timeout)

    def log_message(self, format, *args) -> None:
        pass  # quiet: tests and the demo do not want a line per request
