"""The probe against a real HTTP server on loopback.

The server listens on 127.0.0.1. Most tests reach it as `media.test` through an
injected resolver and let exactly 127.0.0.1/32 through the address check
(`extra_allowed_networks`), so every other internal address is still refused, as
in production. A guard makes any connection to a non-loopback address, and any
real DNS lookup, fail the test.
"""

import gzip
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from uploads.urlcheck import probe as probe_module
from uploads.urlcheck.policy import address_options
from uploads.urlcheck.probe import (
    ProbeRefused,
    ProbeResult,
    ProbeUnreachable,
    probe_url,
    recheck_url,
)

MB = 1024**2
GIB = 1024**3
SEGMENT_SIZE = 2_000_000
BOMB = gzip.compress(b"#EXTM3U\n" + b"\n" * (64 * MB), compresslevel=9)


# --- the test server ------------------------------------------------------------------


def _send(handler, status, headers=None, body=b"", head=False):
    handler.send_response(status)
    headers = dict(headers or {})
    headers.setdefault("Content-Length", str(len(body)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    if body and not head:
        handler.wfile.write(body)


def _stream_zeros(handler, total):
    chunk = b"\0" * 65536
    for _ in range(total // len(chunk)):
        handler.wfile.write(chunk)


def _media_playlist(base, count, duration=6.0, byte_range=None, relative=False):
    lines = ["#EXTM3U", "#EXT-X-VERSION:4", f"#EXT-X-TARGETDURATION:{int(duration) + 1}"]
    for number in range(count):
        lines.append(f"#EXTINF:{duration},")
        if byte_range:
            lines.append(f"#EXT-X-BYTERANGE:{byte_range}@{number * byte_range}")
        relative_here = relative and number == count - 1
        lines.append(f"seg/{number}.ts" if relative_here else f"{base}/seg/{number}.ts")
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _master_playlist(base, variants, audio=None):
    lines = ["#EXTM3U"]
    if audio:
        lines.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="{audio}"')
    for uri, bandwidth in variants:
        lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION=1280x720", uri]
    return "\n".join(lines) + "\n"


def _playlist(handler, text, head=False, **headers):
    headers.setdefault("Content-Type", "application/vnd.apple.mpegurl")
    _send(handler, 200, headers, text.encode(), head)


def _video(handler, head):
    _send(handler, 200, {"Content-Type": "video/mp4", "Content-Length": "1000000"}, head=True)
    if not head:
        handler.wfile.write(b"\0" * 1_000_000)


def _no_head(handler, head):
    if head:
        _send(handler, 405, head=True)
    elif handler.headers.get("Range") == "bytes=0-0":
        headers = {"Content-Type": "video/mp4", "Content-Range": "bytes 0-0/123456"}
        _send(handler, 206, headers, b"\0")
    else:
        _send(handler, 400)


def _no_head_huge(handler, head):
    if head:
        _send(handler, 405, head=True)
        return
    # Ignores Range and sends the whole of a 200 MB file.
    total = 200 * MB
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(total)}
    _send(handler, 200, headers, head=True)
    _stream_zeros(handler, total)


def _html_as_octets(handler, head):
    if head:
        _send(handler, 403, head=True)
        return
    body = b"<!DOCTYPE html><html><body>Sign in to watch</body></html>"
    _send(handler, 200, {"Content-Type": "application/octet-stream"}, body)


def _drip_body(handler, head):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/vnd.apple.mpegurl")
    handler.end_headers()
    for byte in b"#EXTM3U\n" + b"#" * 600:
        handler.wfile.write(bytes([byte]))
        time.sleep(0.1)


def _drip_headers(handler, head):
    for byte in b"HTTP/1.0 200 OK\r\nContent-Type: video/mp4\r\nX-Slow: " + b"z" * 600:
        handler.wfile.write(bytes([byte]))
        time.sleep(0.05)


def _huge_playlist(handler, head):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/vnd.apple.mpegurl")
    handler.end_headers()  # no Content-Length: the body ends when the server closes
    handler.wfile.write(b"#EXTM3U\n")
    line = b"#" * 63 + b"\n"
    for _ in range(100 * MB // 4096):
        handler.wfile.write(line * 64)


def _huge_declared_playlist(handler, head):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/vnd.apple.mpegurl")
    handler.send_header("Content-Length", str(50 * MB))
    handler.end_headers()
    _stream_zeros(handler, 50 * MB)


def _bomb(handler, head):
    headers = {"Content-Type": "application/vnd.apple.mpegurl", "Content-Encoding": "gzip"}
    _send(handler, 200, headers, BOMB, head)


def _gzip_playlist(handler, head):
    body = gzip.compress(_media_playlist(handler.server.base, 3).encode())
    headers = {"Content-Type": "application/vnd.apple.mpegurl", "Content-Encoding": "gzip"}
    _send(handler, 200, headers, body, head)


def _chunked_playlist(handler, head):
    handler.protocol_version = "HTTP/1.1"
    handler.close_connection = True
    handler.send_response(200)
    handler.send_header("Content-Type", "application/x-mpegURL")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("Connection", "close")
    handler.end_headers()
    text = _media_playlist(handler.server.base, 4).encode()
    for start in range(0, len(text), 50):
        piece = text[start : start + 50]
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
    handler.wfile.write(b"0\r\n\r\n")


def _redirect(location):
    def route(handler, head):
        _send(handler, 302, {"Location": location.format(base=handler.server.base)}, head=head)

    return route


def _redirect_chain(handler, head):
    remaining = int(handler.path.rsplit("/", 1)[1])
    target = "/video.mp4" if remaining == 0 else f"/redirect/{remaining - 1}"
    _send(handler, 302, {"Location": target}, head=head)


def _set_cookie_then_redirect(handler, head):
    headers = {"Location": "/video.mp4", "Set-Cookie": "session=secret; Path=/"}
    _send(handler, 302, headers, head=head)


def _routes():
    def media(count, **kwargs):
        return lambda h, head: _playlist(h, _media_playlist(h.server.base, count, **kwargs), head)

    def master(variants, audio=None):
        def route(handler, head):
            base = handler.server.base
            listed = [(uri.format(base=base), bandwidth) for uri, bandwidth in variants]
            audio_uri = audio.format(base=base) if audio else None
            _playlist(handler, _master_playlist(base, listed, audio_uri), head)

        return route

    return {
        "/video.mp4": _video,
        "/big.mp4": lambda h, head: _send(
            h, 200, {"Content-Type": "video/mp4", "Content-Length": str(2 * GIB)}, head=True
        ),
        "/page": lambda h, head: _send(
            h, 200, {"Content-Type": "text/html; charset=utf-8"}, b"<html></html>", head
        ),
        "/image.png": lambda h, head: _send(h, 200, {"Content-Type": "image/png"}, b"png", head),
        "/missing.mp4": lambda h, head: _send(h, 404, head=head),
        "/broken.mp4": lambda h, head: _send(h, 503, head=head),
        "/no-head.mp4": _no_head,
        "/no-head-huge.bin": _no_head_huge,
        "/html-as-octets": _html_as_octets,
        "/drip.m3u8": _drip_body,
        "/drip-headers.mp4": _drip_headers,
        "/huge.m3u8": _huge_playlist,
        "/huge-declared.m3u8": _huge_declared_playlist,
        "/bomb.m3u8": _bomb,
        "/gzip.m3u8": _gzip_playlist,
        "/chunked.m3u8": _chunked_playlist,
        "/stream": lambda h, head: _playlist(h, _media_playlist(h.server.base, 2), head),
        "/media.m3u8": media(3),
        "/relative.m3u8": media(3, relative=True),
        "/byterange-small.m3u8": media(10, byte_range=1_000_000),
        "/byterange-big.m3u8": media(10, byte_range=200_000_000),
        "/master.m3u8": master(
            [("{base}/v/low.m3u8", 800_000), ("{base}/v/high.m3u8", 5_000_000)],
            audio="{base}/v/audio.m3u8",
        ),
        "/master-relative.m3u8": master([("{base}/v/low.m3u8", 800_000), ("v/high.m3u8", 1)]),
        "/master-bad-variant.m3u8": master(
            [("{base}/v/low.m3u8", 800_000), ("{base}/v/relative.m3u8", 5_000_000)]
        ),
        "/master-big.m3u8": master(
            [("{base}/v/low.m3u8", 800_000), ("{base}/v/long.m3u8", 8_000_000)]
        ),
        "/master-many.m3u8": master([(f"{{base}}/v/low.m3u8?n={n}", 800_000) for n in range(21)]),
        "/master-to-internal.m3u8": master([("http://10.0.0.7/v/low.m3u8", 800_000)]),
        "/segments-internal.m3u8": lambda h, head: _playlist(
            h, _media_playlist("http://10.0.0.8", 3, byte_range=1000), head
        ),
        "/brotli.m3u8": lambda h, head: _send(
            h,
            200,
            {"Content-Type": "application/vnd.apple.mpegurl", "Content-Encoding": "br"},
            b"\x0b\x02\x80#EXTM3U\x03",
            head,
        ),
        "/v/low.m3u8": media(10),
        "/v/high.m3u8": media(10),
        "/v/audio.m3u8": media(10),
        "/v/relative.m3u8": media(5, relative=True),
        "/v/long.m3u8": media(1200),
        "/to-private": _redirect("http://10.0.0.1/video.mp4"),
        "/to-metadata": _redirect("http://169.254.169.254/latest/meta-data/"),
        "/to-metadata-hex": _redirect("http://0xa9fea9fe/latest/meta-data/"),
        "/to-internal-name": _redirect("http://internal.example:{port}/video.mp4"),
        "/to-ftp": _redirect("ftp://example.com/video.mp4"),
        "/set-cookie": _set_cookie_then_redirect,
    }


class _Handler(BaseHTTPRequestHandler):
    routes = _routes()

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._dispatch(head=True)

    def do_GET(self):
        self._dispatch(head=False)

    def _dispatch(self, head):
        self.server.requests.append((self.command, self.path, dict(self.headers)))
        path = urlsplit(self.path).path
        route = self.routes.get(path)
        if route is None and path.startswith("/redirect/"):
            route = _redirect_chain
        if route is None and path.startswith("/seg/"):
            headers = {"Content-Type": "video/mp2t", "Content-Length": str(SEGMENT_SIZE)}
            route = lambda h, head: _send(h, 200, headers, head=True)  # noqa: E731
        try:
            if route is None:
                _send(self, 404, head=head)
            else:
                route(self, head)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the probe hung up: what these tests want to see


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.port = httpd.server_address[1]
    httpd.base = f"http://media.test:{httpd.port}"
    httpd.requests = []
    _Handler.routes["/to-internal-name"] = _redirect(
        "http://internal.example:" + str(httpd.port) + "/video.mp4"
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _tls_server(directory, certificate_name):
    """An HTTPS copy of the test server whose certificate names `certificate_name`."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", f"/CN={certificate_name}"]
        + ["-addext", f"subjectAltName=DNS:{certificate_name}"],
        check=True,
        capture_output=True,
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.port = httpd.server_address[1]
    httpd.base = f"https://media.test:{httpd.port}"
    httpd.requests = []
    httpd.server_names = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: httpd.server_names.append(name)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    httpd.ca_file = str(cert)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


@pytest.fixture(scope="module", params=["media.test", "other.test"])
def tls_server(request, tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    httpd = _tls_server(tmp_path_factory.mktemp("tls"), request.param)
    httpd.certificate_name = request.param
    yield httpd
    httpd.shutdown()
    httpd.server_close()


# --- guards and hooks -------------------------------------------------------------------


class Network:
    """What the probe did on the network during one test."""

    def __init__(self, server_port):
        self.server_port = server_port
        self.connects = []
        self.lookups = []
        self.bytes_received = 0

    def resolve(self, host, port):
        self.lookups.append(host)
        table = {
            "media.test": ["127.0.0.1"],
            "internal.example": ["10.1.2.3"],
            "mixed.example": ["127.0.0.1", "192.168.1.5"],
            "metadata.example": ["::ffff:169.254.169.254"],
            "garbled.example": ["not-an-address"],
        }
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]


@pytest.fixture
def network(server, monkeypatch):
    """Record connections and bytes; fail on any non-loopback connection or real DNS."""
    seen = Network(server.port)
    real_connect = socket.socket.connect
    real_recv_into = socket.socket.recv_into
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(self, address):
        seen.connects.append(address[0])
        if not ipaddress.ip_address(address[0]).is_loopback:
            raise AssertionError(f"the probe tried to connect to {address[0]}")
        return real_connect(self, address)

    def counting_recv_into(self, buffer, nbytes=0, flags=0):
        count = real_recv_into(self, buffer, nbytes, flags)
        try:
            from_server = self.getpeername()[1] == server.port
        except OSError:
            from_server = False
        if from_server:
            seen.bytes_received += count
        return count

    def numeric_only_getaddrinfo(host, *args, **kwargs):
        ipaddress.ip_address(host.strip("[]") if isinstance(host, str) else host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "recv_into", counting_recv_into)
    monkeypatch.setattr(socket, "getaddrinfo", numeric_only_getaddrinfo)
    server.requests.clear()
    return seen


@pytest.fixture
def options(server, network):
    """Production rules with only 127.0.0.1 let through."""
    return {
        "resolver": network.resolve,
        "extra_allowed_networks": ["127.0.0.1/32"],
        "allowed_ports": (80, 443, server.port),
    }


# --- direct files -------------------------------------------------------------------------


def test_it_accepts_a_direct_mp4_link(server, options, network):
    result = probe_url(f"{server.base}/video.mp4", **options)
    assert result == ProbeResult(
        final_url=f"{server.base}/video.mp4",
        content_type="video/mp4",
        size=1_000_000,
        is_playlist=False,
        estimated_size=1_000_000,
        estimate_method="the file's Content-Length",
    )
    assert network.connects == ["127.0.0.1"]


def test_it_keeps_the_host_header_while_connecting_to_the_checked_address(server, options):
    probe_url(f"{server.base}/video.mp4", **options)
    method, path, headers = server.requests[-1]
    assert (method, path) == ("HEAD", "/video.mp4")
    assert headers["Host"] == f"media.test:{server.port}"
    assert "Cookie" not in headers and "Authorization" not in headers


def test_it_refuses_a_web_page(server, options):
    with pytest.raises(ProbeRefused, match="looks like a web page, not a direct link"):
        probe_url(f"{server.base}/page", **options)


def test_it_refuses_a_web_page_served_as_a_generic_binary_type(server, options):
    with pytest.raises(ProbeRefused, match="web page"):
        probe_url(f"{server.base}/html-as-octets", **options)


def test_it_refuses_content_that_is_not_video(server, options):
    with pytest.raises(ProbeRefused, match="image/png"):
        probe_url(f"{server.base}/image.png", **options)


def test_it_reports_a_404_as_unreachable(server, options):
    with pytest.raises(ProbeUnreachable, match="404"):
        probe_url(f"{server.base}/missing.mp4", **options)


def test_it_reports_a_server_error_as_unreachable(server, options):
    with pytest.raises(ProbeUnreachable, match="503"):
        probe_url(f"{server.base}/broken.mp4", **options)


def test_it_falls_back_to_a_one_byte_get_when_head_is_refused(server, options):
    result = probe_url(f"{server.base}/no-head.mp4", **options)
    assert result.size == 123456
    assert result.estimate_method == "the file's Content-Range"
    methods = [(method, headers.get("Range")) for method, _, headers in server.requests]
    assert methods == [("HEAD", None), ("GET", "bytes=0-0")]


def test_it_reads_no_more_than_the_byte_bound_of_a_huge_body(server, options, network):
    result = probe_url(f"{server.base}/no-head-huge.bin", max_bytes=16 * 1024, **options)
    assert result.size == 200 * MB
    assert 0 < network.bytes_received < 16 * 1024 + 64 * 1024


def test_it_refuses_a_file_over_1_gb_and_says_its_size(server, options):
    with pytest.raises(ProbeRefused, match=r"2\.00 GB.*up to 1\.00 GB"):
        probe_url(f"{server.base}/big.mp4", **options)


def test_it_accepts_a_file_over_1_gb_when_large_files_are_allowed(server, options):
    result = probe_url(f"{server.base}/big.mp4", large_files_allowed=True, **options)
    assert result.size == 2 * GIB


# --- deadline -------------------------------------------------------------------------------


def test_the_deadline_holds_against_a_server_dripping_the_body(server, options):
    started = time.monotonic()
    with pytest.raises(ProbeUnreachable, match="0.5 seconds"):
        probe_url(f"{server.base}/drip.m3u8", deadline=0.5, **options)
    assert time.monotonic() - started < 0.5 + 0.4


def test_the_deadline_holds_against_a_server_dripping_the_headers(server, options):
    started = time.monotonic()
    with pytest.raises(ProbeUnreachable, match="0.5 seconds"):
        probe_url(f"{server.base}/drip-headers.mp4", deadline=0.5, **options)
    assert time.monotonic() - started < 0.5 + 0.4


def test_the_deadline_holds_against_a_slow_dns_lookup(server, options):
    def slow_resolver(host, port):
        time.sleep(3)
        return ["127.0.0.1"]

    started = time.monotonic()
    with pytest.raises(ProbeUnreachable, match="Looking up"):
        probe_url(
            f"{server.base}/video.mp4", deadline=0.5, **(options | {"resolver": slow_resolver})
        )
    assert time.monotonic() - started < 0.5 + 0.4


# --- playlists --------------------------------------------------------------------------


def test_it_accepts_an_absolute_media_playlist_and_estimates_from_the_first_segment(
    server, options
):
    result = probe_url(f"{server.base}/media.m3u8", **options)
    assert result.is_playlist
    assert result.content_type == "application/vnd.apple.mpegurl"
    assert (result.segment_count, result.duration) == (3, 18.0)
    assert result.estimated_size == 3 * SEGMENT_SIZE
    assert "first segment" in result.estimate_method


def test_it_refuses_a_media_playlist_with_a_relative_segment_naming_the_line(server, options):
    with pytest.raises(ProbeRefused) as caught:
        probe_url(f"{server.base}/relative.m3u8", **options)
    assert caught.value.message.startswith("Line 9 uses a relative path (seg/2.ts)")
    assert (caught.value.line_no, caught.value.line) == (9, "seg/2.ts")


def test_it_refuses_a_master_playlist_with_one_relative_variant(server, options):
    with pytest.raises(ProbeRefused, match=r"relative path \(v/high\.m3u8\)"):
        probe_url(f"{server.base}/master-relative.m3u8", **options)


def test_it_refuses_a_master_whose_variant_playlist_has_a_relative_segment(server, options):
    with pytest.raises(ProbeRefused, match=r"variant playlist .*/v/relative\.m3u8: Line \d+ uses"):
        probe_url(f"{server.base}/master-bad-variant.m3u8", **options)


def test_it_checks_every_variant_of_a_good_master_and_estimates_from_bandwidth(server, options):
    result = probe_url(f"{server.base}/master.m3u8", **options)
    assert result.is_playlist
    assert result.variant_count == 2
    assert (result.segment_count, result.duration) == (10, 60.0)
    assert result.estimated_size == 5_000_000 * 60 // 8
    assert "Mbit/s" in result.estimate_method
    fetched = {path for method, path, _ in server.requests if method == "GET"}
    assert {"/master.m3u8", "/v/low.m3u8", "/v/high.m3u8", "/v/audio.m3u8"} <= fetched


def test_it_refuses_a_bandwidth_estimate_over_1_gb_saying_how_it_was_made(server, options):
    with pytest.raises(ProbeRefused) as caught:
        probe_url(f"{server.base}/master-big.m3u8", **options)
    message = caught.value.message
    assert "6.71 GB" in message
    assert "8.00 Mbit/s × 2 h 0 min ÷ 8" in message


def test_it_accepts_a_bandwidth_estimate_over_1_gb_when_large_files_are_allowed(server, options):
    result = probe_url(f"{server.base}/master-big.m3u8", large_files_allowed=True, **options)
    assert result.estimated_size == 8_000_000 * 7200 // 8


def test_it_estimates_from_byte_ranges_under_1_gb(server, options):
    result = probe_url(f"{server.base}/byterange-small.m3u8", **options)
    assert result.estimated_size == 10_000_000
    assert "byte ranges" in result.estimate_method


def test_it_refuses_a_byte_range_total_over_1_gb(server, options):
    with pytest.raises(ProbeRefused, match=r"1\.86 GB \(the byte ranges of its 10 segments\)"):
        probe_url(f"{server.base}/byterange-big.m3u8", **options)


def test_it_accepts_a_byte_range_total_over_1_gb_when_large_files_are_allowed(server, options):
    result = probe_url(f"{server.base}/byterange-big.m3u8", large_files_allowed=True, **options)
    assert result.estimated_size == 2_000_000_000


def test_it_refuses_a_master_with_too_many_variants_to_check(server, options):
    with pytest.raises(ProbeRefused, match="21 variant and rendition playlists; more than 20"):
        probe_url(f"{server.base}/master-many.m3u8", **options)


def test_it_refuses_a_playlist_that_names_an_internal_address(server, options, network):
    with pytest.raises(ProbeRefused, match=r"10\.0\.0\.7"):
        probe_url(f"{server.base}/master-to-internal.m3u8", **options)
    assert set(network.connects) == {"127.0.0.1"}


def test_it_refuses_segments_at_an_internal_address_it_never_fetches(server, options, network):
    # Byte ranges give the size: no segment is fetched, the playlist's hosts are still judged.
    with pytest.raises(ProbeRefused, match=r"names a file at http://10\.0\.0\.8/seg/0\.ts"):
        probe_url(f"{server.base}/segments-internal.m3u8", **options)
    assert set(network.connects) == {"127.0.0.1"}


def test_it_refuses_an_answer_compressed_in_a_way_it_cannot_read(server, options):
    with pytest.raises(ProbeRefused, match=r"in a way we cannot read \(br\)"):
        probe_url(f"{server.base}/brotli.m3u8", **options)


def test_it_recognises_a_playlist_by_content_type_without_the_extension(server, options):
    result = probe_url(f"{server.base}/stream", **options)
    assert result.is_playlist and result.segment_count == 2


def test_it_reads_gzip_and_chunked_playlists(server, options):
    assert probe_url(f"{server.base}/gzip.m3u8", **options).segment_count == 3
    assert probe_url(f"{server.base}/chunked.m3u8", **options).segment_count == 4


def test_it_refuses_a_playlist_larger_than_the_bound_reading_little_of_it(server, options, network):
    with pytest.raises(ProbeRefused, match="too large to check"):
        probe_url(f"{server.base}/huge.m3u8", max_playlist_bytes=256 * 1024, **options)
    assert 256 * 1024 < network.bytes_received < 256 * 1024 + 64 * 1024


def test_it_refuses_a_playlist_whose_declared_length_is_over_the_bound(server, options, network):
    with pytest.raises(ProbeRefused, match="too large to check"):
        probe_url(f"{server.base}/huge-declared.m3u8", max_playlist_bytes=MB, **options)
    assert network.bytes_received < 64 * 1024


def test_it_caps_the_decompressed_size_of_a_gzip_bomb(server, options, network):
    with pytest.raises(ProbeRefused, match="too large to check"):
        probe_url(f"{server.base}/bomb.m3u8", max_playlist_bytes=MB, **options)
    assert 0 < network.bytes_received < 64 * 1024


# --- redirects and addresses -------------------------------------------------------------


def test_it_follows_five_redirects(server, options):
    result = probe_url(f"{server.base}/redirect/4", **options)
    assert result.final_url == f"{server.base}/video.mp4"


def test_it_refuses_six_redirects(server, options):
    with pytest.raises(ProbeRefused, match="redirects more than 5 times"):
        probe_url(f"{server.base}/redirect/5", **options)
    assert len(server.requests) == 6


@pytest.mark.parametrize(
    ("path", "address"),
    [
        ("/to-private", "10.0.0.1"),
        ("/to-metadata", "169.254.169.254"),
        ("/to-metadata-hex", "169.254.169.254"),
    ],
)
def test_it_refuses_a_redirect_to_a_private_address_before_connecting(
    server, options, network, path, address
):
    with pytest.raises(ProbeRefused, match=rf"redirects to .*inside our network.*{address}"):
        probe_url(f"{server.base}{path}", **options)
    assert network.connects == ["127.0.0.1"]


def test_it_refuses_a_redirect_to_a_name_that_resolves_privately(server, options, network):
    with pytest.raises(ProbeRefused, match=r"internal\.example .*10\.1\.2\.3"):
        probe_url(f"{server.base}/to-internal-name", **options)
    assert network.lookups == ["media.test", "internal.example"]
    assert network.connects == ["127.0.0.1"]


def test_it_refuses_a_redirect_to_another_scheme(server, options):
    with pytest.raises(ProbeRefused, match="Only http"):
        probe_url(f"{server.base}/to-ftp", **options)


def test_it_never_sends_cookies_it_was_given(server, options):
    probe_url(f"{server.base}/set-cookie", **options)
    assert all("Cookie" not in headers for _, _, headers in server.requests)
    assert len(server.requests) == 2


def test_it_refuses_a_name_that_resolves_to_a_private_address_before_connecting(
    server, options, network
):
    with pytest.raises(ProbeRefused) as caught:
        probe_url(f"http://internal.example:{server.port}/video.mp4", **options)
    assert caught.value.message == (
        "The server name internal.example leads to an address inside our network "
        "(10.1.2.3, a private address); memories.ai cannot reach it."
    )
    assert network.connects == []


def test_it_refuses_a_name_whose_resolver_gives_no_address(server, options, network):
    with pytest.raises(ProbeRefused, match="garbled.example resolves to an invalid address"):
        probe_url(f"http://garbled.example:{server.port}/video.mp4", **options)
    assert network.connects == []


@pytest.mark.parametrize("host", ["mixed.example", "metadata.example"])
def test_it_refuses_a_name_if_any_of_its_addresses_is_internal(server, options, network, host):
    with pytest.raises(ProbeRefused, match="inside our network"):
        probe_url(f"http://{host}:{server.port}/video.mp4", **options)
    assert network.connects == []


def test_it_refuses_a_literal_internal_address_without_any_lookup(server, options, network):
    with pytest.raises(ProbeRefused, match="inside our network"):
        probe_url(f"http://10.0.0.1:{server.port}/video.mp4", **options)
    assert network.lookups == [] and network.connects == []


def test_it_refuses_loopback_when_private_addresses_are_not_allowed(server, network):
    with pytest.raises(ProbeRefused, match="loopback"):
        probe_url(f"http://127.0.0.1:{server.port}/video.mp4", allowed_ports=(server.port,))
    assert network.connects == []


def test_the_private_switch_lets_only_loopback_through(server, network, settings):
    settings.URL_PROBE_ALLOW_PRIVATE = True
    url = f"http://127.0.0.1:{server.port}/video.mp4"
    settings.URL_PROBE_ALLOWED_PORTS = [server.port]
    assert probe_url(url, **address_options()).size == 1_000_000
    with pytest.raises(ProbeRefused, match="inside our network"):
        probe_url(f"http://10.0.0.1:{server.port}/video.mp4", **address_options())
    settings.URL_PROBE_ALLOWED_PORTS = [80, 443]
    with pytest.raises(ProbeRefused, match=f"port {server.port}"):
        probe_url(url, **address_options())


def test_it_refuses_a_port_other_than_80_and_443_unless_allowed(server, options, network):
    with pytest.raises(ProbeRefused, match=f"port {server.port}"):
        probe_url(f"{server.base}/video.mp4", **(options | {"allowed_ports": (80, 443)}))
    assert network.connects == []


def test_it_reports_a_dns_failure_as_unreachable(server, options):
    with pytest.raises(ProbeUnreachable, match="could not be found"):
        probe_url(f"http://nowhere.example:{server.port}/video.mp4", **options)


def test_it_reports_a_refused_connection_as_unreachable(options):
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        closed_port = placeholder.getsockname()[1]
    with pytest.raises(ProbeUnreachable, match="Could not connect"):
        probe_url(
            f"http://media.test:{closed_port}/video.mp4",
            **(options | {"allowed_ports": (closed_port,)}),
        )


def test_it_refuses_credentials_in_the_url(server, options, network):
    with pytest.raises(ProbeRefused, match="user name and password"):
        probe_url(f"http://user:pw@media.test:{server.port}/video.mp4", **options)
    assert network.connects == []


def test_the_probe_session_ignores_the_environment(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    fetcher = probe_module._Fetcher(probe_module._make_options())
    assert fetcher.session.trust_env is False
    assert fetcher.session.auth is None


# --- TLS -------------------------------------------------------------------------------------


def test_it_keeps_the_tls_name_while_connecting_to_the_checked_address(
    tls_server, network, monkeypatch
):
    # Trust the test certificate the way requests trusts its CA bundle.
    monkeypatch.setattr("requests.adapters.DEFAULT_CA_BUNDLE_PATH", tls_server.ca_file)
    options = {
        "resolver": network.resolve,
        "extra_allowed_networks": ["127.0.0.1/32"],
        "allowed_ports": (tls_server.port,),
    }
    url = f"https://media.test:{tls_server.port}/video.mp4"
    if tls_server.certificate_name == "media.test":
        assert probe_url(url, **options).size == 1_000_000
        assert tls_server.requests[-1][2]["Host"] == f"media.test:{tls_server.port}"
    else:
        with pytest.raises(ProbeUnreachable, match="certificate"):
            probe_url(url, **options)
    assert tls_server.server_names[-1] == "media.test"  # SNI: the name, not the address
    assert set(network.connects) == {"127.0.0.1"}


# --- recheck ------------------------------------------------------------------------------


def test_recheck_passes_for_a_reachable_video(server, options):
    assert recheck_url(f"{server.base}/video.mp4", **options) is None
    assert [method for method, _, _ in server.requests] == ["HEAD"]


def test_recheck_passes_for_a_playlist_with_a_single_head_request(server, options):
    recheck_url(f"{server.base}/media.m3u8", **options)
    assert [method for method, _, _ in server.requests] == ["HEAD"]


def test_recheck_raises_the_same_exceptions(server, options):
    with pytest.raises(ProbeUnreachable):
        recheck_url(f"{server.base}/missing.mp4", **options)
    with pytest.raises(ProbeRefused):
        recheck_url(f"{server.base}/page", **options)
    with pytest.raises(ProbeRefused):
        recheck_url(f"{server.base}/to-metadata", **options)
    with pytest.raises(ProbeRefused):
        recheck_url(f"{server.base}/big.mp4", **options)
    recheck_url(f"{server.base}/big.mp4", large_files_allowed=True, **options)
