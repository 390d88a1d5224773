"""A small m3u8 (HLS) checker: is this a playlist memories.ai accepts?

memories.ai only accepts playlists whose every path is a full http(s) URL, so
every URI is checked: segment lines, variant lines after `#EXT-X-STREAM-INF`, and
the `URI="..."` attributes of the tags that carry one. The checker also gathers
what the probe needs for a size estimate (durations, byte ranges, bandwidths).

It is line-oriented: one loop over the lines, each classified once. Two checks wait for
the end of the loop, because a check per line would miss the speed goal (a 50,000-segment
playlist in under twice the time of a bare `splitlines()` scan, benchmarks/bench_playlist.py):
the host part of the http(s) segment URIs and the #EXTINF durations. Any input gives a
PlaylistInfo or a PlaylistError, nothing else.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

ABSOLUTE_PREFIXES = ("https://", "http://")
MASTER_KIND = "master"
MEDIA_KIND = "media"
_SHOWN_LINE_LIMIT = 120
_RULE = "memories.ai only accepts playlists whose every path is a full https:// URL."

# Tags whose URI attribute names a file memories.ai will fetch.
_MASTER_URI_TAGS = frozenset(
    {
        "EXT-X-MEDIA",
        "EXT-X-I-FRAME-STREAM-INF",
        "EXT-X-SESSION-KEY",
        "EXT-X-SESSION-DATA",
        "EXT-X-CONTENT-STEERING",
    }
)
_MEDIA_URI_TAGS = frozenset(
    {"EXT-X-KEY", "EXT-X-MAP", "EXT-X-PART", "EXT-X-PRELOAD-HINT", "EXT-X-RENDITION-REPORT"}
)
_MEDIA_TAGS = frozenset(
    {
        "EXT-X-TARGETDURATION",
        "EXT-X-MEDIA-SEQUENCE",
        "EXT-X-DISCONTINUITY-SEQUENCE",
        "EXT-X-PLAYLIST-TYPE",
        "EXT-X-ENDLIST",
        "EXT-X-BYTERANGE",
        "EXT-X-PART-INF",
    }
)
# A segment line whose host part is missing: "https:///seg.ts", "http://?x".
_MISSING_HOST = re.compile(r"\nhttps?://(?:[/?#@:\n]|\Z)")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


class PlaylistError(ValueError):
    """The playlist cannot be sent; `message` is a sentence for the person who submitted it."""

    def __init__(self, message: str, line_no: int | None = None, line: str | None = None):
        super().__init__(message)
        self.message = message
        self.line_no = line_no
        self.line = line


@dataclass
class PlaylistInfo:
    kind: str  # "master" or "media"
    variants: list[tuple[str, int | None]] = field(default_factory=list)  # (uri, BANDWIDTH)
    renditions: list[str] = field(default_factory=list)  # EXT-X-MEDIA URIs
    other_uris: list[str] = field(default_factory=list)  # keys, maps, parts, I-frame lists...
    segment_uris: list[str] = field(default_factory=list)
    segment_count: int = 0
    duration: float = 0.0  # seconds, the sum of EXTINF
    byte_total: int | None = None  # sum of EXT-X-BYTERANGE lengths when every segment has one
    ended: bool = False  # has EXT-X-ENDLIST (a finished, not live, playlist)


def _shown(text: str) -> str:
    if len(text) > _SHOWN_LINE_LIMIT:
        return text[: _SHOWN_LINE_LIMIT - 1] + "…"
    return text


def _uri_problem(uri: str) -> str | None:
    """What is wrong with a playlist URI, as the end of a sentence, or None."""
    if uri[:8].lower().startswith(ABSOLUTE_PREFIXES):
        rest = uri[uri.index("//") + 2 :]
        if not rest or rest[0] in "/?#@:":
            return f"uses an address without a host name ({_shown(uri)})"
        return None
    scheme, colon, _ = uri.partition(":")
    if not uri:
        return "has an empty path"
    if colon and _SCHEME.fullmatch(scheme):
        return f"uses an address that is not an http(s) URL ({_shown(uri)})"
    return f"uses a relative path ({_shown(uri)})"


def _attributes(text: str) -> dict[str, str]:
    """Parse an attribute list (`A=1,B="x,y"`) leniently: junk never raises."""
    attrs: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        eq = text.find("=", i)
        if eq < 0:
            break
        name = text[i:eq].strip().upper()
        j = eq + 1
        if j < n and text[j] == '"':
            end = text.find('"', j + 1)
            if end < 0:
                value, i = text[j + 1 :], n
            else:
                value = text[j + 1 : end]
                comma = text.find(",", end)
                i = n if comma < 0 else comma + 1
        else:
            comma = text.find(",", j)
            end = n if comma < 0 else comma
            value, i = text[j:end].strip(), end + 1
        attrs.setdefault(name, value)
    return attrs


def _small_int(text: str) -> int | None:
    text = text.strip()
    if text and len(text) <= 20 and text.isascii() and text.isdigit():
        return int(text)
    return None


class _Parser:
    """One pass over the lines of a playlist, each line classified once, in order."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.info = PlaylistInfo(kind=MEDIA_KIND)
        self.extinf_lines: list[str] = []
        self.master_line: int | None = None  # first master-only tag
        self.media_line: int | None = None  # first media-only tag
        self.segment_line: int | None = None  # first segment URI
        self.variant_line: int | None = None  # an #EXT-X-STREAM-INF still waiting for its URI
        self.variant_bandwidth: int | None = None
        self.byte_ranges: dict[int, int] = {}  # segment index -> length
        self.bad_byte_range = False

    def fail(self, line_no: int, message: str) -> PlaylistError:
        line = self.lines[line_no - 1] if 0 < line_no <= len(self.lines) else None
        return PlaylistError(message, line_no, line)

    def run(self, first: int) -> PlaylistInfo:
        """Read the lines after the header, which is line `first`."""
        segments = self.info.segment_uris
        for line_no, line in enumerate(self.lines[first:], first + 1):
            text = line.strip()
            if not text:
                continue
            if text.startswith("#EXTINF:"):
                self.extinf_lines.append(text)  # parsed in total_duration()
            elif text[0] == "#":
                if text.startswith("#EXT"):
                    self.tag(line_no, text)
            elif self.variant_line is None and text.startswith(ABSOLUTE_PREFIXES):
                # The host part is checked once for all, in check_segment_hosts(): a call
                # per line instead misses the goal of bench_playlist.py (docs/performance.md).
                if not segments:
                    self.segment_line = line_no
                segments.append(text)
            else:
                self.uri_line(line_no, text)
        if self.variant_line is not None:
            raise self.variant_without_uri()
        return self.finish()

    def check_uri(self, line_no: int, uri: str) -> None:
        problem = _uri_problem(uri)
        if problem:
            raise self.fail(line_no, f"Line {line_no} {problem}; {_RULE}")

    def uri_line(self, line_no: int, uri: str) -> None:
        """A segment, or the variant an #EXT-X-STREAM-INF is waiting for."""
        self.check_uri(line_no, uri)
        if self.variant_line is not None:
            self.info.variants.append((uri, self.variant_bandwidth))
            self.variant_line = None
            return
        if self.segment_line is None:
            self.segment_line = line_no
        self.info.segment_uris.append(uri)

    def tag(self, line_no: int, text: str) -> None:
        name, _, value = text[1:].partition(":")
        if name == "EXT-X-STREAM-INF":
            if self.variant_line is not None:
                raise self.variant_without_uri()
            self.master_tag(line_no)
            self.variant_line = line_no
            self.variant_bandwidth = _small_int(_attributes(value).get("BANDWIDTH", ""))
        elif name in _MASTER_URI_TAGS:
            self.master_tag(line_no)
            self.uri_attribute(line_no, name, value)
        elif name in _MEDIA_URI_TAGS:
            self.media_tag(line_no)
            self.uri_attribute(line_no, name, value)
        elif name in _MEDIA_TAGS:
            self.media_tag(line_no)
            if name == "EXT-X-ENDLIST":
                self.info.ended = True
            elif name == "EXT-X-BYTERANGE":
                length = _small_int(value.partition("@")[0])
                if length is None:
                    self.bad_byte_range = True
                else:
                    self.byte_ranges[len(self.info.segment_uris)] = length

    def variant_without_uri(self) -> PlaylistError:
        line_no = self.variant_line or 0
        return self.fail(
            line_no,
            f"Line {line_no}: #EXT-X-STREAM-INF is not followed by the address of its playlist.",
        )

    def master_tag(self, line_no: int) -> None:
        if self.master_line is None:
            self.master_line = line_no

    def media_tag(self, line_no: int) -> None:
        if self.media_line is None:
            self.media_line = line_no

    def uri_attribute(self, line_no: int, name: str, value: str) -> None:
        attrs = _attributes(value)
        uri = attrs.get("SERVER-URI" if name == "EXT-X-CONTENT-STEERING" else "URI")
        if uri is None:
            if name in ("EXT-X-I-FRAME-STREAM-INF", "EXT-X-MAP", "EXT-X-PART"):
                raise self.fail(line_no, f"Line {line_no}: #{name} has no URI attribute.")
            return
        uri = uri.strip()
        self.check_uri(line_no, uri)
        if name == "EXT-X-MEDIA":
            self.info.renditions.append(uri)
        else:
            self.info.other_uris.append(uri)

    def find_line(self, wanted: str) -> int:
        """The number of the first line that reads `wanted` once stripped (errors only)."""
        for line_no, line in enumerate(self.lines, 1):
            if line.strip() == wanted:
                return line_no
        return 0  # not reached: callers only look for lines they have seen

    def check_segment_hosts(self) -> None:
        """One regex over the joined segment URIs: "https:///seg.ts", "http://?x"."""
        if _MISSING_HOST.search("\n" + "\n".join(self.info.segment_uris)):
            for uri in self.info.segment_uris:
                self.check_uri(self.find_line(uri), uri)

    def finish(self) -> PlaylistInfo:
        info = self.info
        self.check_segment_hosts()
        if self.master_line is not None:
            return self.finish_master()
        if not info.segment_uris:
            raise PlaylistError("The playlist lists no video segments.")
        info.segment_count = len(info.segment_uris)
        info.duration = self.total_duration()
        if (
            self.byte_ranges
            and not self.bad_byte_range
            and len(self.byte_ranges) == info.segment_count
        ):
            info.byte_total = sum(self.byte_ranges.values())
        return info

    def finish_master(self) -> PlaylistInfo:
        info = self.info
        info.kind = MASTER_KIND
        media_lines = [
            line_no for line_no in (self.media_line, self.segment_line) if line_no is not None
        ]
        if self.extinf_lines:
            media_lines.append(self.find_line(self.extinf_lines[0]))
        if media_lines:
            line_no = min(media_lines)
            raise self.fail(
                line_no,
                f"Line {line_no} belongs in a media playlist, but this is a master playlist "
                "(it lists variant streams); a playlist must be one or the other.",
            )
        if not info.variants:
            raise PlaylistError("The master playlist lists no variant streams.")
        return info

    def total_duration(self) -> float:
        """The sum of the #EXTINF durations; each distinct #EXTINF line is parsed once."""
        # Encoders repeat a handful of durations: parsing every line instead misses the
        # goal of bench_playlist.py (docs/performance.md).
        durations = []
        for text, count in Counter(self.extinf_lines).items():
            try:
                duration = float(text[8:].partition(",")[0])
            except ValueError:
                duration = math.nan
            if not math.isfinite(duration) or duration < 0:
                line_no = self.find_line(text)
                raise self.fail(
                    line_no,
                    f"Line {line_no} gives a segment duration that is not a valid number "
                    f"of seconds ({_shown(text)}).",
                )
            durations.append(duration * count)
        try:
            total = math.fsum(durations)
        except OverflowError:
            total = math.inf
        if not math.isfinite(total):
            raise PlaylistError("The segment durations add up to more than can be counted.")
        return total


def check_playlist(text: str) -> PlaylistInfo:
    """Check an m3u8 playlist's text; return what it contains or raise PlaylistError.

    Tolerates a BOM, CRLF line ends, blank lines and unknown or malformed tags. Refuses
    a text that does not start with #EXTM3U, any relative or non-http(s) URI (naming its
    line), a playlist that mixes master and media tags, and an empty playlist.
    """
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise PlaylistError("This is not an m3u8 playlist: it is not text.")
    if text[:1] == "\ufeff":
        text = text[1:]
    lines = text.splitlines()
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    header = lines[first].strip() if first < len(lines) else ""
    if header != "#EXTM3U" and not (header.startswith("#EXTM3U") and header[7].isspace()):
        raise PlaylistError(
            "This is not an m3u8 playlist: it must start with #EXTM3U.",
            first + 1 if lines else None,
            lines[first] if first < len(lines) else None,
        )
    return _Parser(lines).run(first + 1)
