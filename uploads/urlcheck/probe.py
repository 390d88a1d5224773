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

Only the fetching lives here: the connection pinned to the checked address, the
redirect walk, the capped reading, the webhook POST. What is judged of an answer once
it arrived is in pure modules beside it: `outcomes` (the exceptions and results, which
this module re-exports), `options`, `answers` (statuses, headers, sizes and their words)
and `playlist` (m3u8 reading).
"""

from __future__ import annotations

import http.client
import logging
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from http.cookiejar import DefaultCookiePolicy
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.structures import CaseInsensitiveDict
from urllib3.util.connection import allowed_gai_family

from uploads.deadline import Deadline, DeadlineAdapter
from uploads.urlcheck import answers
from uploads.urlcheck.addresses import DEFAULT_PORTS, IPAddress, IPNetwork, UnsafeURL, parse_host
from uploads.urlcheck.answers import REDIRECT_STATUSES, FileHead, format_size
from uploads.urlcheck.options import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PLAYLIST_BYTES,
    GB,
    ProbeOptions,
    Resolver,
    resolved_addresses,
)
from uploads.urlcheck.options import make_options as _make_options
from uploads.urlcheck.outcomes import (
    PostResult,
    ProbeError,
    ProbeRedirected,
    ProbeRefused,
    ProbeResult,
    ProbeUnreachable,
    shown,
)
from uploads.urlcheck.playlist import PlaylistError, PlaylistInfo, check_playlist

__all__ = [
    "GB",
    "PostResult",
    "ProbeError",
    "ProbeRedirected",
    "ProbeRefused",
    "ProbeResult",
    "ProbeUnreachable",
    "Resolver",
    "format_size",
    "post",
    "probe_url",
    "recheck_url",
    "system_resolver",
]

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

logger = logging.getLogger(__name__)

USER_AGENT = "MemoriesPortal-URLCheck/1.0"
_READ_CHUNK = 16 * 1024


def probe_url(
    url: str,
    *,
    large_files_allowed: bool = False,
    deadline: float = 5.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_playlist_bytes: int = DEFAULT_MAX_PLAYLIST_BYTES,
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
        fetcher.options.checked_url(url)
        response = fetcher.send("POST", url, headers, data=body)
        try:
            if response.status_code in REDIRECT_STATUSES:
                location = response.headers.get("Location", "")
                raise ProbeRedirected(
                    f"It answered with a redirect ({response.status_code}) to "
                    f"{shown(location)}; webhooks do not follow redirects.",
                    response.status_code,
                )
            answer, _ = fetcher.read_body(response, fetcher.options.max_bytes)
        finally:
            response.close()
    return PostResult(response.status_code, answer, time.monotonic() - started)


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
    ) -> tuple[_HostParams, _PoolKwargs]:
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
            # urllib3's pool arguments; requests' stubs know only those requests sets.
            tls = cast("dict[str, Any]", pool_kwargs)
            tls["server_hostname"] = hostname  # SNI
            tls["assert_hostname"] = hostname  # certificate name
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

    def __init__(self, options: ProbeOptions):
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

    def resolve(self, host: str, port: int) -> str:
        """The checked address to connect to for `host`; called for every request."""
        try:
            literal = parse_host(host)
        except UnsafeURL as error:
            raise ProbeRefused(error.message) from None
        addresses = [literal] if literal is not None else self.lookup(host, port)
        return self.options.pinned_address(host, addresses)

    def lookup(self, host: str, port: int) -> list[IPAddress]:
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
        return resolved_addresses(host, outcome["addresses"])

    # requests

    def open(
        self, method: str, url: str, headers: dict[str, str] | None = None
    ) -> tuple[requests.Response, str]:
        """Send `method` to `url`, following redirects by hand; return the final response."""
        current = self.options.checked_url(url)
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
            current = self.options.checked_url(urljoin(current, location.strip()), redirected=True)
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
        decoder = answers.decoder_for(response.headers.get("Content-Encoding", ""))
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


# --- the probe ----------------------------------------------------------------------


class _Probe:
    """What memories.ai would fetch, fetched through one `_Fetcher` and judged by `answers`."""

    def __init__(self, fetcher: _Fetcher):
        self.fetcher = fetcher
        self.options = fetcher.options

    def run(self, url: str) -> ProbeResult:
        url = self.fetcher.options.checked_url(url)
        if answers.has_playlist_extension(url):
            return self.probe_playlist(url)
        head = self.file_head(url)
        if head.content_type in answers.HLS_TYPES or answers.starts_like_playlist(head.first_bytes):
            return self.probe_playlist(head.final_url)
        self.refuse_large_non_video(head)
        return ProbeResult(
            final_url=head.final_url,
            content_type=head.content_type or None,
            size=head.size,
            is_playlist=False,
            estimated_size=head.size,
            estimate_method=head.size_source,
        )

    def recheck(self, url: str) -> None:
        url = self.fetcher.options.checked_url(url)
        head = self.file_head(url)
        playlist = (
            answers.has_playlist_extension(url)
            or answers.has_playlist_extension(head.final_url)
            or head.content_type in answers.HLS_TYPES
            or answers.starts_like_playlist(head.first_bytes)
        )
        if playlist:
            if head.content_type in answers.HTML_TYPES:
                raise ProbeRefused("This looks like a web page, not an m3u8 playlist.")
            return
        self.refuse_large_non_video(head)

    def refuse_large_non_video(self, head: FileHead) -> None:
        answers.refuse_non_video(head)
        if head.size is not None and self.options.over_size_limit(head.size):
            raise answers.too_large_file(head.size, self.options)

    # direct files

    def file_head(self, url: str) -> FileHead:
        response, final_url = self.fetcher.open("HEAD", url)
        with response:
            if response.status_code not in answers.HEAD_FALLBACK_STATUSES:
                answers.raise_for_status(response)
                size = answers.int_header(response.headers.get("Content-Length"))
                content_type = answers.content_type(response)
                if size is not None or content_type in answers.HTML_TYPES | answers.HLS_TYPES:
                    return FileHead(final_url, content_type, size, "the file's Content-Length")
        # HEAD refused, or silent about the size: ask for the first byte instead.
        return self.first_byte(url)

    def first_byte(self, url: str) -> FileHead:
        response, final_url = self.fetcher.open("GET", url, {"Range": "bytes=0-0"})
        with response:
            answers.raise_for_status(response)
            content_type = answers.content_type(response)
            if response.status_code == 206:
                size = answers.content_range_total(response.headers.get("Content-Range"))
                source = "the file's Content-Range"
            else:  # the server ignored Range and is sending the whole file
                size = answers.int_header(response.headers.get("Content-Length"))
                source = "the file's Content-Length"
            # Enough to tell a playlist or a page served as a generic type; never more.
            # Best effort: a body we cannot decode says nothing against the file.
            try:
                first_bytes, _ = self.fetcher.read_body(response, self.options.max_bytes)
            except ProbeRefused:
                first_bytes = b""
        if size is None:
            source = "unknown: the server does not say how large the file is"
        return FileHead(final_url, content_type, size, source, first_bytes[:1024])

    # playlists

    def fetch_playlist(self, url: str, label: str) -> tuple[str, str, PlaylistInfo]:
        response, final_url = self.fetcher.open("GET", url)
        limit = self.options.max_playlist_bytes
        too_large = ProbeRefused(
            f"{label} is larger than {format_size(limit)}, too large to check."
        )
        with response:
            answers.raise_for_status(response)
            content_type = answers.content_type(response)
            if content_type in answers.HTML_TYPES:
                raise ProbeRefused(f"{label} looks like a web page, not an m3u8 playlist.")
            length = answers.int_header(response.headers.get("Content-Length"))
            if length is not None and length > limit:
                raise too_large
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
        answers.check_playlist_hosts(info, label, self.options)
        return final_url, content_type, info

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
        if estimate is not None and self.options.over_size_limit(estimate):
            raise answers.too_large_playlist(estimate, result.estimate_method, self.options)
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
            label = f"The variant playlist {shown(uri)}"
            _, _, child = self.fetch_playlist(uri, label)
            if child.kind != "media":
                raise ProbeRefused(f"{label} is itself a master playlist; it should list segments.")
            checked[uri] = child
        best_uri, best_bandwidth = max(variants, key=lambda variant: variant[1] or 0)
        best = checked[best_uri]
        estimate, method = answers.variant_estimate(best, best_bandwidth)
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
            segment_size = self.file_head(info.segment_uris[0]).size
        except ProbeUnreachable:
            segment_size = None
        return answers.segment_estimate(info, segment_size)
