"""One account of the sandbox: its key and switches, its limits, videos and faults, what
it recorded, and the control endpoints that drive it from another process."""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
import urllib.parse
import urllib.request
from http.server import ThreadingHTTPServer

from .wire import (
    FAULTS,
    STATUSES,
    ApiError,
    Fault,
    Reply,
    Request,
    UploadRecord,
    max_in_window,
    string_code,
)


class Account:
    """One account's key, switches, limits, videos and faults; `Sandbox` (`server.py`)
    adds the endpoints and the server on top."""

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
        # The account's switches (see the package's docstring).
        self.credits_out = False
        self.key_revoked = False
        self.slow_list = 0.0
        self.name = "default"

        self._lock = threading.RLock()
        # The other accounts on this address, by key (add_account); each is a Sandbox
        # that does not serve by itself: this one hands it the requests with its key.
        self._accounts: dict[str, Account] = {}
        self._front: Account | None = None
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

    # ---- accounts --------------------------------------------------------

    def add_account(self, api_key: str, name: str | None = None, **options) -> Account:
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
    def accounts(self) -> list[Account]:
        """The other accounts (add_account), not this one."""
        with self._lock:
            return list(self._accounts.values())

    def account(self, name: str) -> Account | None:
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
            params["code"] = string_code(params["code"])
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
        return max_in_window([r.received_at for r in self.accepted], seconds)

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
        return max_in_window(times, seconds)

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

    def _check_auth(self, request: Request) -> None:
        # The raw key, exactly: "Bearer <key>" is refused like a wrong key.
        if request.headers.get("authorization") != self.api_key or self.key_revoked:
            raise ApiError("0401")

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
