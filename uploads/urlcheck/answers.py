"""Reading what a server answered to the probe, and saying it in words.

Pure functions over an answer already received (status, headers, the first bytes) and
over parsed playlists: the probe (`uploads.urlcheck.probe`) does the fetching and calls
these to judge. No network, no DNS, no Django.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from uploads.urlcheck.addresses import UnsafeURL, check_url
from uploads.urlcheck.options import GB, ProbeOptions
from uploads.urlcheck.outcomes import ProbeRefused, ProbeUnreachable, shown
from uploads.urlcheck.playlist import PlaylistInfo

HLS_TYPES = frozenset(
    {
        "application/vnd.apple.mpegurl",
        "application/x-mpegurl",
        "application/mpegurl",
        "audio/mpegurl",
        "audio/x-mpegurl",
    }
)
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
GENERIC_BINARY_TYPES = frozenset(
    {
        "application/octet-stream",
        "binary/octet-stream",
        "application/binary",
        "application/x-binary",
        "application/x-octet-stream",
        "application/download",
        "application/x-download",
        "application/force-download",
        "application/mp4",
    }
)
# HEAD answers after which a one-byte GET is worth trying: servers and signed URLs
# (S3, CloudFront) that only allow GET answer these to HEAD.
HEAD_FALLBACK_STATUSES = frozenset({400, 403, 405, 406, 500, 501})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass
class FileHead:
    """What the start of a direct file's answer said."""

    final_url: str
    content_type: str
    size: int | None
    size_source: str
    first_bytes: bytes = b""


# --- formatting -----------------------------------------------------------------


def format_size(size: float) -> str:
    if size >= GB / 10:
        return f"{size / GB:.2f} GB"
    if size >= 1024**2:
        return f"{size / 1024**2:.1f} MB"
    return f"{size / 1024:.0f} KB"


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


# --- headers and statuses ---------------------------------------------------------


def content_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


def int_header(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 20 else None


def content_range_total(value: str | None) -> int | None:
    # "bytes 0-0/12345" -> 12345; "bytes 0-0/*" (unknown) -> None
    if not value:
        return None
    return int_header(value.rpartition("/")[2])


def raise_for_status(response: requests.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    reason = f"{status} {response.reason}".strip() if response.reason else str(status)
    if status in (401, 403):
        raise ProbeUnreachable(
            f"The server refused access ({reason}); memories.ai must be able to download "
            "the video without logging in."
        )
    if status in (404, 410):
        raise ProbeUnreachable(f"The server says there is nothing at this address ({reason}).")
    if 300 <= status < 400:
        raise ProbeUnreachable(f"The server answered with a redirect we cannot follow ({reason}).")
    raise ProbeUnreachable(f"The server answered with an error ({reason}).")


def decoder_for(encoding: str) -> zlib._Decompress | None:
    """What undoes a Content-Encoding (None: nothing to undo); refuses those we cannot read."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
    raise ProbeRefused(f"The server compresses its answer in a way we cannot read ({encoding}).")


# --- direct files -------------------------------------------------------------------


def starts_like_playlist(first_bytes: bytes) -> bool:
    return first_bytes.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"#EXTM3U")


def has_playlist_extension(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(".m3u8")


def refuse_non_video(head: FileHead) -> None:
    start = head.first_bytes.lstrip()[:15].lower()
    if head.content_type in HTML_TYPES or start.startswith((b"<!doctype html", b"<html")):
        raise ProbeRefused(
            "This looks like a web page, not a direct link to the video. Open the page, "
            "find the video's own download link, and use that."
        )
    if head.content_type and not (
        head.content_type.startswith("video/") or head.content_type in GENERIC_BINARY_TYPES
    ):
        raise ProbeRefused(
            f"This address answers with {head.content_type}, not a video file or an m3u8 playlist."
        )


def too_large_file(size: int, options: ProbeOptions) -> ProbeRefused:
    return ProbeRefused(
        f"This video file is {format_size(size)}; memories.ai accepts URL uploads up to "
        f"{format_size(options.size_limit)} unless the account has its permission "
        "for larger files."
    )


# --- playlists ------------------------------------------------------------------------


def check_playlist_hosts(info: PlaylistInfo, label: str, options: ProbeOptions) -> None:
    """Every file a playlist names must pass the same address rules (no DNS)."""
    uris = [uri for uri, _ in info.variants] + info.renditions + info.other_uris
    seen: set[str] = set()
    for uri in uris + info.segment_uris:
        origin = uri[: uri.find("/", uri.find("//") + 2)] if uri.count("/") > 2 else uri
        if origin in seen:
            continue
        seen.add(origin)
        try:
            check_url(
                origin + "/",
                allowed_ports=options.allowed_ports,
                extra_allowed_networks=options.extra_allowed_networks,
            )
        except UnsafeURL as error:
            raise ProbeRefused(f"{label} names a file at {shown(uri)}. {error.message}") from None


def variant_estimate(best: PlaylistInfo, bandwidth: int | None) -> tuple[int | None, str]:
    """A master playlist's size, from its highest-bandwidth variant, and how it was found."""
    if best.byte_total is not None:
        return best.byte_total, (
            f"the byte ranges of the highest-bandwidth variant's {best.segment_count} segments"
        )
    if bandwidth:
        return round(bandwidth * best.duration / 8), (
            f"estimated from the highest-bandwidth variant: {bandwidth / 1e6:.2f} Mbit/s "
            f"× {format_duration(best.duration)} ÷ 8"
        )
    return None, "unknown: the variants state neither byte ranges nor bandwidth"


def segment_estimate(info: PlaylistInfo, segment_size: int | None) -> tuple[int | None, str]:
    """A media playlist's size without byte ranges: its first segment's size times their
    number."""
    if segment_size is None:
        return None, "unknown: the playlist gives no byte ranges and its segments no size"
    return segment_size * info.segment_count, (
        f"estimated from the first segment: {format_size(segment_size)} "
        f"× {info.segment_count} segments"
    )


def too_large_playlist(estimate: int, method: str, options: ProbeOptions) -> ProbeRefused:
    return ProbeRefused(
        f"This playlist adds up to about {format_size(estimate)} ({method}); memories.ai "
        f"accepts playlists up to {format_size(options.size_limit)} unless the account has "
        "its permission for larger ones."
    )
