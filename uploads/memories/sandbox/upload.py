"""The sandbox's upload_url endpoint, and what follows an accepted upload: the parsing
schedule and the callbacks to the portal."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid

from .accounts import Account
from .checks import disturb, read_form, upload_data, validate_upload
from .wire import (
    ANSWER_FAULTS,
    POSSIBLY_PROCESSED,
    PROXY_PAGES,
    ApiError,
    Reply,
    Request,
    UploadRecord,
)


class UploadEndpoint(Account):
    """upload_url, refusals included, and the parsing and callbacks an upload sets off."""

    def _upload_url(self, request: Request) -> Reply:
        fault = self._take_fault(ANSWER_FAULTS)
        name, params = fault or (None, {})
        if name and name.startswith("http_"):
            return self._proxy_failure(request, name)
        fields, form_error = read_form(request)
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
            upload = validate_upload(fields)
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
            return disturb(self._envelope(error), name, params)
        self._schedule_processing(video["video_no"])
        return disturb(self._envelope_ok(upload_data(video)), name, params)

    def _proxy_failure(self, request: Request, name: str) -> Reply:
        status = int(name.removeprefix("http_"))
        if name in POSSIBLY_PROCESSED:
            fields, _ = read_form(request)
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
