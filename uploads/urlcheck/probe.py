"""The one module of the portal that fetches URLs people submit.

Before a video URL goes to memories.ai the form asks: does it answer, is it a
video (or an m3u8 playlist whose every path is absolute), and is it under the
1 GB limit? Answering means fetching a URL chosen by a user from inside the
company network, so every request here is guarded against server-side request
forgery:

- the host is resolved here, every address it resolves to must be public
  (`uploads.urlcheck.addresses`), and the connection goes to the checked address: there
  is no second lookup that a rebinding DNS server could answer differently;
- redirects are followed by hand, each hop checked again (scheme, port, address);
- no cookies, credentials, proxies or netrc (`trust_env=False`, a fresh session);
- bodies are read up to a cap, decompressed bytes are capped too;
- the whole probe has a wall-clock deadline that also covers DNS and servers
  that drip one byte at a time.

Two exception types tell the form what to do: `ProbeRefused` cannot be
overridden (internal address, web page, too large, relative playlist paths...),
`ProbeUnreachable` can (the person may confirm the URL is publicly reachable:
our network may simply not see it).
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.structures import CaseInsensitiveDict
from urllib3.util.connection import allowed_gai_family

from uploads.deadline import Deadline, DeadlineAdapter
from uploads.urlcheck.addresses import (
    DEFAULT_PORTS,
    IPNetwork,
    UnsafeURL,
    address_problem,
    check_url,
    parse_host,
)
from uploads.urlcheck.playlist import PlaylistError, PlaylistInfo, check_playlist

logger = logging.getLogger(__name__)

GB = 1024**3
DEFAULT_MAX_BYTES = 64 * 1024
USER_AGENT = "MemoriesPortal-URLCheck/1.0"
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
_READ_CHUNK = 16 * 1024
_SHOWN_URL_LIMIT = 100

type Resolver = Callable[[str, int], Iterable[str | ipaddress.IPv4Address | ipaddress.IPv6Address]]


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


@dataclass(frozen=True)
class _Options:
    large_files_allowed: bool = False
    deadline: float = 5.0
    max_bytes: int = DEFAULT_MAX_BYTES
    max_playlist_bytes: int = 8 * 1024 * 1024
    max_redirects: int = 5
    allowed_ports: tuple[int, ...] = DEFAULT_PORTS
    max_variants: int = 20
    size_limit: int = GB
    resolver: Resolver | None = None
    extra_allowed_networks: tuple[IPNetwork, ...] = ()
    # Host names a person allowed explicitly (WEBHOOK_ALLOWED_HOSTS): these may be
    # internal, on any port; every other host is judged as always.
    trusted_hosts: frozenset[str] = frozenset()


def probe_url(
    url: str,
    *,
    large_files_allowed: bool = False,
    deadline: float = 5.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_playlist_bytes: int = 8 * 1024 * 1024,
    max_redirects: int = 5,
    allowed_ports: Iterable[int] = DEFAULT_PORTS,
    max_variants: int = 20,
    size_limit: int = GB,
    resolver: Resolver | None = None,
    extra_allowed_networks: Iterable[IPNetwork | str] = (),
) -> ProbeResult:
    """Fetch what memories.ai would fetch, within `deadline` seconds, and judge it.

    Direct files: HEAD (or a one-byte GET) must answer 2xx with a video or generic
    binary type; the size, when given, must be under `size_limit` unless
    `large_files_allowed`. Playlists (`.m3u8`, or an HLS content type): the playlist
    and each variant playlist is fetched (at most `max_playlist_bytes` each, at most
    `max_variants` of them) and checked, then its size is estimated.

    `resolver(host, port) -> addresses` replaces DNS (tests); `extra_allowed_networks`
    lets the listed networks through the address checks (tests and the sandbox serve on
    loopback: `uploads.urlcheck.policy` passes it when URL_PROBE_ALLOW_PRIVATE is on).
    `max_bytes` caps what is read of any body that is not a playlist.
    """
    options = _make_options(
        large_files_allowed=large_files_allowed,
        deadline=deadline,
        max_bytes=max_bytes,
        max_playlist_bytes=max_playlist_bytes,
        max_redirects=max_redirects,
        allowed_ports=allowed_ports,
        max_variants=max_variants,
        size_limit=size_limit,
        resolver=resolver,
        extra_allowed_networks=extra_allowed_networks,
    )
    with _Fetcher(options) as fetcher:
        return _Probe(fetcher).run(url)


def recheck_url(url: str, **options: Any) -> None:
    """A cheap re-check just before sending a submission that waited: HEAD or a one-byte GET.

    Takes the same keyword options as `probe_url`; raises the same exceptions. Refuses
    internal addresses, web pages and (when the server states it) direct files over
    the size limit; does not fetch playlists again.
    """
    with _Fetcher(_make_options(**options)) as fetcher:
        _Probe(fetcher).recheck(url)


def _make_options(
    *,
    allowed_ports: Iterable[int] = DEFAULT_PORTS,
    extra_allowed_networks: Iterable[IPNetwork | str] = (),
    trusted_hosts: Iterable[str] = (),
    **options: Any,
) -> _Options:
    return _Options(
        allowed_ports=tuple(allowed_ports),
        extra_allowed_networks=tuple(ipaddress.ip_network(n) for n in extra_allowed_networks),
        trusted_hosts=frozenset(h.strip().lower().rstrip(".") for h in trusted_hosts if h.strip()),
        **options,
    )


@dataclass
class PostResult:
    status_code: int
    body: bytes  # the start of the answer, at most `max_bytes`
    seconds: float


def post(
    url: str, body: bytes, headers: dict[str, str], *, deadline: float = 10.0, **options: Any
) -> PostResult:
    """POST `body` to a user-given URL (a webhook) through the same guarded, pinned connection.

    The same refusals as a probe (`ProbeRefused` for an internal address in any written
    form, `ProbeUnreachable` when it does not answer in `deadline` seconds), except for
    the `trusted_hosts` an administrator allowed. Redirects are not followed (a POST is
    not repeated somewhere else): a redirect is answered as a `ProbeRefused` naming it.
    Any status code is returned; reading its body stops at `max_bytes`.
    """
    started = time.monotonic()
    with _Fetcher(_make_options(deadline=deadline, **options)) as fetcher:
        fetcher.check(url)
        response = fetcher.send("POST", url, headers, data=body)
        try:
            if response.status_code in REDIRECT_STATUSES:
                location = response.headers.get("Location", "")
                raise ProbeRedirected(
                    f"It answered with a redirect ({response.status_code}) to "
                    f"{_shown(location)}; webhooks do not follow redirects.",
                    response.status_code,
                )
            answer, _ = fetcher.read_body(response, fetcher.options.max_bytes)
        finally:
            response.close()
    return PostResult(response.status_code, answer, time.monotonic() - started)


# --- formatting -----------------------------------------------------------------


def _shown(url: str) -> str:
    return url if len(url) <= _SHOWN_URL_LIMIT else url[: _SHOWN_URL_LIMIT - 1] + "…"


def format_size(size: float) -> str:
    if size >= GB / 10:
        return f"{size / GB:.2f} GB"
    if size >= 1024**2:
        return f"{size / 1024**2:.1f} MB"
    return f"{size / 1024:.0f} KB"


def _format_duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def _content_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()


def _int_header(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 20 else None


def _content_range_total(value: str | None) -> int | None:
    # "bytes 0-0/12345" -> 12345; "bytes 0-0/*" (unknown) -> None
    if not value:
        return None
    return _int_header(value.rpartition("/")[2])


# --- deadline -------------------------------------------------------------------


class _Deadline(Deadline):
    """The probe's wall-clock budget (see `uploads.deadline`): expiring is "unreachable"."""

    def expired(self) -> ProbeUnreachable:
        return ProbeUnreachable(
            f"The server did not answer in time: checking the address took longer than "
            f"{self.seconds:g} seconds."
        )


# --- pinned connections -----------------------------------------------------------


class _PinnedAddressAdapter(DeadlineAdapter):
    """Connects to the address `resolve` checked, keeping the Host header and TLS name.

    The pool's host becomes the checked IP; urllib3 gets the original name for the
    Host header, SNI and certificate matching (the technique of requests-hardened's
    `IPFilterAdapter`). That package is not a dependency: its adapter resolves with a
    bare `getaddrinfo` (no timeout, so DNS would escape the probe deadline, and no
    resolver to inject in tests), keeps only the first address, allows loopback only
    as a whole, and judges addresses by `ipaddress` flags instead of
    `uploads.urlcheck.addresses` (it lets `::a00:1`, IPv4-compatible 10.0.0.1, through).
    """

    def __init__(self, resolve: Callable[[str, int], str]):
        self._resolve = resolve
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        hostname: str = host_params["host"]
        port: int | None = host_params["port"]
        scheme: str = host_params["scheme"]
        address = self._resolve(hostname, port or (443 if scheme == "https" else 80))

        # A copy: the caller's header mapping may be shared.
        request.headers = CaseInsensitiveDict(request.headers or {})
        host_header = f"[{hostname}]" if ":" in hostname else hostname
        request.headers["Host"] = host_header if port is None else f"{host_header}:{port}"
        if scheme == "https":
            pool_kwargs["server_hostname"] = hostname  # SNI
            pool_kwargs["assert_hostname"] = hostname  # certificate name
        host_params["host"] = f"[{address}]" if ":" in address else address
        return host_params, pool_kwargs

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        # The deprecated path would skip build_connection_pool_key_attributes, and the pin.
        raise NotImplementedError("use get_connection_with_tls_context")


def system_resolver(host: str, port: int) -> list[str]:
    """Addresses for `host`, as the system resolver gives them (IPv6 only if usable)."""
    infos = socket.getaddrinfo(host, port, family=allowed_gai_family(), type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]


# --- fetching ---------------------------------------------------------------------


class _Fetcher:
    """Guarded HTTP for one probe: checks, pinning, manual redirects, caps, deadline."""

    def __init__(self, options: _Options):
        self.options = options
        self.deadline = _Deadline(options.deadline)
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies, no netrc credentials, no CA overrides
        self.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.session.headers = CaseInsensitiveDict(
            {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
        )
        adapter = _PinnedAddressAdapter(self.resolve)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __enter__(self) -> _Fetcher:
        self.deadline.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.deadline.__exit__(*exc_info)
        self.session.close()

    # addresses

    def check(self, url: str, *, redirected: bool = False) -> str:
        """`check_url` with this probe's options (no DNS); raises ProbeRefused."""
        parts = urlsplit(url.strip())
        if parts.scheme in ("http", "https") and self.trusts(parts.hostname):
            return url.strip()
        try:
            return check_url(
                url,
                allowed_ports=self.options.allowed_ports,
                extra_allowed_networks=self.options.extra_allowed_networks,
            )
        except UnsafeURL as error:
            prefix = f"It redirects to {_shown(url)}. " if redirected else ""
            raise ProbeRefused(prefix + error.message) from None

    def trusts(self, host: str | None) -> bool:
        return bool(host) and host.lower().rstrip(".") in self.options.trusted_hosts

    def address_allowed(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        if address_problem(ip) is None:
            return True
        return any(ip in network for network in self.options.extra_allowed_networks)

    def resolve(self, host: str, port: int) -> str:
        """The checked address to connect to for `host`; called for every request."""
        try:
            literal = parse_host(host)
        except UnsafeURL as error:
            raise ProbeRefused(error.message) from None
        addresses = [literal] if literal is not None else self.lookup(host, port)
        if self.trusts(host):
            return str(addresses[0])
        for ip in addresses:
            if not self.address_allowed(ip):
                raise ProbeRefused(_private_name_message(host, ip))
        return str(addresses[0])

    def lookup(self, host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        resolver = self.options.resolver or system_resolver
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["addresses"] = list(resolver(host, port))
            except Exception as error:  # handed over to the probing thread
                outcome["error"] = error

        # getaddrinfo cannot be interrupted and ignores our deadline: run it aside and
        # stop waiting when the time is up (the thread ends with the resolver's timeout).
        worker = threading.Thread(target=run, name=f"probe-dns-{host}", daemon=True)
        worker.start()
        worker.join(self.deadline.remaining())
        if worker.is_alive():
            raise ProbeUnreachable(
                f"Looking up the server name {host} took longer than "
                f"{self.options.deadline:g} seconds."
            )
        if "error" in outcome or not outcome.get("addresses"):
            logger.info("probe: lookup of %s failed: %r", host, outcome.get("error"))
            raise ProbeUnreachable(
                f"The server name {host} could not be found (DNS lookup failed)."
            )
        addresses = []
        for value in outcome["addresses"]:
            try:
                addresses.append(ipaddress.ip_address(str(value).partition("%")[0]))
            except ValueError:
                raise ProbeRefused(
                    f"The server name {host} resolves to an invalid address."
                ) from None
        return addresses

    # requests

    def open(
        self, method: str, url: str, headers: dict[str, str] | None = None
    ) -> tuple[requests.Response, str]:
        """Send `method` to `url`, following redirects by hand; return the final response."""
        current = self.check(url)
        for hop in range(self.options.max_redirects + 1):
            response = self.send(method, current, headers)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response, current
            response.close()
            if hop == self.options.max_redirects:
                raise ProbeRefused(
                    f"The address redirects more than {self.options.max_redirects} times; "
                    "give the final address of the video instead."
                )
            current = self.check(urljoin(current, location.strip()), redirected=True)
        raise AssertionError("not reached")

    def send(
        self, method: str, url: str, headers: dict[str, str] | None, data: bytes | None = None
    ) -> requests.Response:
        host = urlsplit(url).hostname or url
        remaining = self.deadline.remaining()
        try:
            return self.session.request(
                method,
                url,
                headers=headers,
                data=data,
                stream=True,
                allow_redirects=False,
                timeout=(remaining, remaining),
            )
        except ProbeError:
            raise
        except requests.exceptions.SSLError as error:
            if self.deadline.fired:
                raise self.deadline.expired() from None
            logger.info("probe: TLS with %s failed: %r", host, error)
            raise ProbeUnreachable(
                f"A secure (https) connection to {host} failed: its certificate is not "
                "valid for this name, or the server does not speak TLS."
            ) from None
        except requests.exceptions.RequestException as error:
            raise self.network_error(host, error) from None

    def network_error(self, host: str, error: Exception) -> ProbeUnreachable:
        if self.deadline.fired or isinstance(error, requests.exceptions.Timeout):
            return self.deadline.expired()
        logger.info("probe: connection to %s failed: %r", host, error)
        return ProbeUnreachable(
            f"Could not connect to {host}: the server refused or dropped the connection."
        )

    def read_body(self, response: requests.Response, limit: int) -> tuple[bytes, bool]:
        """At most `limit` decoded bytes of the body, and whether there was more.

        Decompression is done here rather than by urllib3 so that both the bytes read
        from the network and the bytes they decompress to are capped.
        """
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            decoder = None
        elif encoding in ("gzip", "x-gzip", "deflate"):
            decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
        else:
            raise ProbeRefused(
                f"The server compresses its answer in a way we cannot read ({encoding})."
            )
        raw_limit = limit + 1 if decoder is None else limit + 64 * 1024
        host = urlsplit(response.url).hostname or ""
        body = bytearray()
        raw_read = 0
        try:
            while True:
                self._limit_socket_wait(response)
                chunk = response.raw.read1(_READ_CHUNK, decode_content=False)
                if not chunk:
                    break
                raw_read += len(chunk)
                if decoder is None:
                    body += chunk
                else:
                    body += decoder.decompress(chunk, limit + 1 - len(body))
                    if decoder.unconsumed_tail:
                        return bytes(body[:limit]), True
                if len(body) > limit or raw_read > raw_limit:
                    return bytes(body[:limit]), True
            if decoder is not None:
                body += decoder.flush()
        except zlib.error:
            raise ProbeRefused("The server's compressed answer is damaged.") from None
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as error:
            raise self.network_error(host, error) from None
        if self.deadline.fired:
            raise self.deadline.expired()  # the watchdog cut the body short
        return bytes(body[:limit]), len(body) > limit

    def _limit_socket_wait(self, response: requests.Response) -> None:
        # Each read is at most one recv (read1), and no recv may outlast the deadline.
        remaining = self.deadline.remaining()
        connection = response.raw.connection
        sock = getattr(connection, "sock", None)
        if sock is not None:
            sock.settimeout(remaining)


def _private_name_message(host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    problem = address_problem(ip)
    description, internal = problem if problem else ("not a public address", False)
    where = "inside our network" if internal else "outside the public internet"
    return (
        f"The server name {host} leads to an address {where} ({ip}, {description}); "
        "memories.ai cannot reach it."
    )


def _raise_for_status(response: requests.Response) -> None:
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


# --- the probe ----------------------------------------------------------------------


@dataclass
class _FileHead:
    final_url: str
    content_type: str
    size: int | None
    size_source: str
    first_bytes: bytes = b""


class _Probe:
    def __init__(self, fetcher: _Fetcher):
        self.fetcher = fetcher
        self.options = fetcher.options

    def run(self, url: str) -> ProbeResult:
        url = self.fetcher.check(url)
        if _has_playlist_extension(url):
            return self.probe_playlist(url)
        head = self.file_head(url)
        if head.content_type in HLS_TYPES or _starts_like_playlist(head.first_bytes):
            return self.probe_playlist(head.final_url)
        self.refuse_non_video(head)
        if self.over_size_limit(head.size):
            raise ProbeRefused(self.too_large_file(head.size))
        return ProbeResult(
            final_url=head.final_url,
            content_type=head.content_type or None,
            size=head.size,
            is_playlist=False,
            estimated_size=head.size,
            estimate_method=head.size_source,
        )

    def recheck(self, url: str) -> None:
        url = self.fetcher.check(url)
        head = self.file_head(url)
        playlist = (
            _has_playlist_extension(url)
            or _has_playlist_extension(head.final_url)
            or head.content_type in HLS_TYPES
            or _starts_like_playlist(head.first_bytes)
        )
        if playlist:
            if head.content_type in HTML_TYPES:
                raise ProbeRefused("This looks like a web page, not an m3u8 playlist.")
            return
        self.refuse_non_video(head)
        if self.over_size_limit(head.size):
            raise ProbeRefused(self.too_large_file(head.size))

    # direct files

    def file_head(self, url: str) -> _FileHead:
        response, final_url = self.fetcher.open("HEAD", url)
        with response:
            if response.status_code not in HEAD_FALLBACK_STATUSES:
                _raise_for_status(response)
                size = _int_header(response.headers.get("Content-Length"))
                if size is not None or _content_type(response) in HTML_TYPES | HLS_TYPES:
                    return _FileHead(
                        final_url, _content_type(response), size, "the file's Content-Length"
                    )
        # HEAD refused, or silent about the size: ask for the first byte instead.
        return self.first_byte(url)

    def first_byte(self, url: str) -> _FileHead:
        response, final_url = self.fetcher.open("GET", url, {"Range": "bytes=0-0"})
        with response:
            _raise_for_status(response)
            content_type = _content_type(response)
            if response.status_code == 206:
                size = _content_range_total(response.headers.get("Content-Range"))
                source = "the file's Content-Range"
            else:  # the server ignored Range and is sending the whole file
                size = _int_header(response.headers.get("Content-Length"))
                source = "the file's Content-Length"
            # Enough to tell a playlist or a page served as a generic type; never more.
            # Best effort: a body we cannot decode says nothing against the file.
            try:
                first_bytes, _ = self.fetcher.read_body(response, self.options.max_bytes)
            except ProbeRefused:
                first_bytes = b""
        if size is None:
            source = "unknown: the server does not say how large the file is"
        return _FileHead(final_url, content_type, size, source, first_bytes[:1024])

    def refuse_non_video(self, head: _FileHead) -> None:
        content_type = head.content_type
        start = head.first_bytes.lstrip()[:15].lower()
        if content_type in HTML_TYPES or start.startswith((b"<!doctype html", b"<html")):
            raise ProbeRefused(
                "This looks like a web page, not a direct link to the video. Open the page, "
                "find the video's own download link, and use that."
            )
        if content_type and not (
            content_type.startswith("video/") or content_type in GENERIC_BINARY_TYPES
        ):
            raise ProbeRefused(
                f"This address answers with {content_type}, not a video file or an m3u8 playlist."
            )

    def over_size_limit(self, size: int | None) -> bool:
        if size is None or self.options.large_files_allowed:
            return False
        return size > self.options.size_limit

    def too_large_file(self, size: int) -> str:
        return (
            f"This video file is {format_size(size)}; memories.ai accepts URL uploads up to "
            f"{format_size(self.options.size_limit)} unless the account has its permission "
            "for larger files."
        )

    # playlists

    def fetch_playlist(self, url: str, label: str) -> tuple[str, str, PlaylistInfo]:
        response, final_url = self.fetcher.open("GET", url)
        limit = self.options.max_playlist_bytes
        too_large = ProbeRefused(
            f"{label} is larger than {format_size(limit)}, too large to check."
        )
        with response:
            _raise_for_status(response)
            if _content_type(response) in HTML_TYPES:
                raise ProbeRefused(f"{label} looks like a web page, not an m3u8 playlist.")
            length = _int_header(response.headers.get("Content-Length"))
            if length is not None and length > limit:
                raise too_large
            content_type = _content_type(response)
            body, over_limit = self.fetcher.read_body(response, limit)
        if over_limit:
            raise too_large
        try:
            info = check_playlist(body.decode("utf-8", errors="replace"))
        except PlaylistError as error:
            prefix = "" if label == "The playlist" else f"{label}: "
            raise ProbeRefused(
                prefix + error.message, line_no=error.line_no, line=error.line
            ) from None
        self.check_playlist_hosts(info, label)
        return final_url, content_type, info

    def check_playlist_hosts(self, info: PlaylistInfo, label: str) -> None:
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
                    allowed_ports=self.options.allowed_ports,
                    extra_allowed_networks=self.options.extra_allowed_networks,
                )
            except UnsafeURL as error:
                raise ProbeRefused(
                    f"{label} names a file at {_shown(uri)}. {error.message}"
                ) from None

    def probe_playlist(self, url: str) -> ProbeResult:
        final_url, content_type, info = self.fetch_playlist(url, "The playlist")
        if info.kind == "media":
            estimate, method = self.media_estimate(info)
            result = ProbeResult(
                final_url=final_url,
                content_type=content_type or None,
                size=None,
                is_playlist=True,
                segment_count=info.segment_count,
                duration=info.duration,
                estimated_size=estimate,
                estimate_method=method,
            )
        else:
            result = self.probe_master(final_url, info)
            result.content_type = content_type or None
        estimate = result.estimated_size
        if self.over_size_limit(estimate):
            raise ProbeRefused(
                f"This playlist adds up to about {format_size(estimate)} "
                f"({result.estimate_method}); memories.ai accepts playlists up to "
                f"{format_size(self.options.size_limit)} unless the account has its "
                "permission for larger ones."
            )
        return result

    def probe_master(self, final_url: str, info: PlaylistInfo) -> ProbeResult:
        variants = [(urljoin(final_url, uri), bandwidth) for uri, bandwidth in info.variants]
        renditions = [urljoin(final_url, uri) for uri in info.renditions]
        to_check = list(dict.fromkeys([uri for uri, _ in variants] + renditions))
        if len(to_check) > self.options.max_variants:
            raise ProbeRefused(
                f"The playlist lists {len(to_check)} variant and rendition playlists; more "
                f"than {self.options.max_variants} is too large to check."
            )
        checked: dict[str, PlaylistInfo] = {}
        for uri in to_check:
            label = f"The variant playlist {_shown(uri)}"
            _, _, child = self.fetch_playlist(uri, label)
            if child.kind != "media":
                raise ProbeRefused(f"{label} is itself a master playlist; it should list segments.")
            checked[uri] = child
        best_uri, best_bandwidth = max(variants, key=lambda variant: variant[1] or 0)
        best = checked[best_uri]
        if best.byte_total is not None:
            estimate = best.byte_total
            method = (
                f"the byte ranges of the highest-bandwidth variant's {best.segment_count} segments"
            )
        elif best_bandwidth:
            estimate = round(best_bandwidth * best.duration / 8)
            method = (
                f"estimated from the highest-bandwidth variant: {best_bandwidth / 1e6:.2f} Mbit/s "
                f"× {_format_duration(best.duration)} ÷ 8"
            )
        else:
            estimate, method = None, "unknown: the variants state neither byte ranges nor bandwidth"
        return ProbeResult(
            final_url=final_url,
            content_type=None,
            size=None,
            is_playlist=True,
            variant_count=len(variants),
            segment_count=best.segment_count,
            duration=best.duration,
            estimated_size=estimate,
            estimate_method=method,
        )

    def media_estimate(self, info: PlaylistInfo) -> tuple[int | None, str]:
        if info.byte_total is not None:
            return info.byte_total, f"the byte ranges of its {info.segment_count} segments"
        # No byte ranges and no bandwidth: the first segment's size times their number.
        try:
            head = self.file_head(info.segment_uris[0])
        except ProbeUnreachable:
            head = None
        if head is None or head.size is None:
            return None, "unknown: the playlist gives no byte ranges and its segments no size"
        estimate = head.size * info.segment_count
        return estimate, (
            f"estimated from the first segment: {format_size(head.size)} "
            f"× {info.segment_count} segments"
        )


def _starts_like_playlist(first_bytes: bytes) -> bool:
    return first_bytes.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"#EXTM3U")


def _has_playlist_extension(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(".m3u8")
