"""The sandbox's reading of requests: form and JSON bodies, the documented fields and their
refusals, list filters, and the shapes of what it answers. Pure functions."""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import urllib.parse
from datetime import UTC, datetime

from .wire import STATUSES, ApiError, Reply, Request, param_error

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


def read_form(request: Request) -> tuple[dict[str, list[str]], ApiError | None]:
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


def validate_upload(fields: dict[str, list[str]]) -> dict:
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


def read_json(request: Request) -> dict:
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


def validate_list_query(body: dict) -> dict:
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


def matches(video: dict, query: dict) -> bool:
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


def list_item(video: dict) -> dict:
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


def upload_data(video: dict) -> dict:
    # camelCase here (and in callbacks), snake_case in list_videos: as documented.
    return {
        "videoNo": video["video_no"],
        "videoName": video["video_name"],
        "videoStatus": video["status"],
        "uploadTime": video["create_time"],
    }


def single_query(request: Request, name: str, default: str | None = None) -> str | None:
    values = request.query.get(name)
    if not values:
        return default
    if len(values) > 1:
        raise param_error(f"{name} must be given once")
    return values[0]


def disturb(reply: Reply, fault: str | None, params: dict) -> Reply:
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
