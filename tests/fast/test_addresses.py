"""Address rules: written forms of IP addresses, public or not, and whole-URL checks."""

import ipaddress
import platform
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uploads.urlcheck.addresses import (
    UnsafeURL,
    address_problem,
    check_url,
    is_public_address,
    parse_host,
    parse_ipv4,
)
from uploads.urlcheck.policy import address_options

LOOPBACK = ipaddress.ip_address("127.0.0.1")


@pytest.mark.parametrize(
    "written",
    ["127.0.0.1", "127.1", "0x7f.1", "2130706433", "017700000001", "0177.0.0.1", "127.0.1"],
)
def test_it_reads_every_written_form_of_loopback_as_the_resolver_does(written):
    assert parse_host(written) == LOOPBACK
    assert socket.inet_aton(written) == LOOPBACK.packed


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("0x0A.0x0.0x0.0x1", "10.0.0.1"),
        ("012.0.0.1", "10.0.0.1"),
        ("167772161", "10.0.0.1"),
        ("0xa9fea9fe", "169.254.169.254"),
        ("169.254.43518", "169.254.169.254"),
        ("0", "0.0.0.0"),  # noqa: S104 - an address under test, not a bind
        ("192.168.1", "192.168.0.1"),
    ],
)
def test_it_reads_hex_octal_and_short_forms_of_private_addresses(written, expected):
    assert parse_host(written) == ipaddress.ip_address(expected)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("[::FFFF:7F00:1]", "::ffff:127.0.0.1"),
        ("::1", "::1"),
        ("[2606:4700::1111]", "2606:4700::1111"),
    ],
)
def test_it_reads_ipv6_literals_with_or_without_brackets(written, expected):
    assert parse_host(written) == ipaddress.ip_address(expected)


@pytest.mark.parametrize("written", ["example.com", "videos.example.org.", "cdn-1.example.net"])
def test_it_returns_none_for_dns_names(written):
    assert parse_host(written) is None


@pytest.mark.parametrize("written", ["[fe80::1%25eth0]", "[fe80::1%eth0]", "fe80::1%eth0"])
def test_it_refuses_ipv6_zone_ids(written):
    with pytest.raises(UnsafeURL, match="zone"):
        parse_host(written)


@pytest.mark.parametrize(
    "written", ["1.2.3.999", "1.2.3.4.5", "0x", "0x100000000", "1.2.3.08", "1..2"]
)
def test_it_refuses_hosts_that_look_numeric_but_are_not_valid_addresses(written):
    with pytest.raises(UnsafeURL):
        parse_host(written)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="compares with glibc's inet_aton")
@given(st.text(alphabet="0123456789abcdefxX.", min_size=1, max_size=24))
def test_its_ipv4_parser_agrees_with_the_system_inet_aton(text):
    try:
        expected = socket.inet_aton(text)
    except OSError:
        expected = None
    parsed = parse_ipv4(text)
    assert (parsed.packed if parsed else None) == expected


@pytest.mark.parametrize(
    "address",
    [
        "0.0.0.0",  # noqa: S104 - an address under test, not a bind
        "0.1.2.3",
        "10.1.2.3",
        "100.64.0.1",
        "100.127.255.254",
        "127.0.0.1",
        "127.255.255.255",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.10",
        "192.88.99.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
    ],
)
def test_it_refuses_non_public_ipv4_addresses(address):
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd12:3456:789a::1",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "3fff::1",
        "100::1",
        "5f00::1",
        "2001:10::1",
        "2001:20::1",
        # IPv6 forms that carry a private IPv4 address.
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "::a00:1",
        "64:ff9b::a00:1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b:1::a00:1",
        "2002:a00:1::",
        "2002:7f00:1::1",
        "2002:c0a8:101::1",
        "2001:0:a00:1::1",  # Teredo with server 10.0.0.1
        "2001:0:808:808:0:f5ff:f5ff:fffe",  # Teredo with client ~0a.00.00.01 = 10.0.0.1
    ],
)
def test_it_refuses_non_public_ipv6_addresses_and_judges_embedded_ipv4(address):
    assert not is_public_address(address)


def test_it_does_not_trust_python_flags_for_nat64_and_6to4():
    # The reason for our own tables: Python counts these as global.
    for written in ("64:ff9b::a00:1", "2002:a00:1::"):
        assert ipaddress.ip_address(written).is_global
        assert not is_public_address(written)
    assert not ipaddress.ip_address("::ffff:127.0.0.1").is_loopback
    assert address_problem("::ffff:127.0.0.1") == (
        "an IPv6 form of 127.0.0.1, a loopback address",
        True,
    )


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "100.63.255.255",
        "100.128.0.0",
        "172.32.0.1",
        "2606:4700:4700::1111",
        "2a00:1450:4007:80f::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_it_accepts_public_addresses(address):
    assert is_public_address(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/video.mp4",
        "http://127.1/video.mp4",
        "http://0x7f.1/video.mp4",
        "http://2130706433/video.mp4",
        "http://017700000001/video.mp4",
        "http://0177.0.0.1/video.mp4",
        "http://127.0.1/video.mp4",
        "http://127.0.0.1./video.mp4",
        "http://[::1]/video.mp4",
        "http://[::ffff:127.0.0.1]/video.mp4",
        "http://[::ffff:7f00:1]/video.mp4",
        "http://[64:ff9b::a00:1]/video.mp4",
        "http://[2002:a00:1::]/video.mp4",
        "https://10.0.0.5/video.mp4",
        "https://169.254.169.254/latest/meta-data/",
        "https://0xa9fea9fe/latest/meta-data/",
        "https://100.64.1.1/video.mp4",
        "https://192.168.0.10:443/video.mp4",
        "https://[fd00::5]/video.mp4",
        "https://[fe80::1%25eth0]/video.mp4",
        "http://0.0.0.0/video.mp4",
        "http://0/video.mp4",
        "http://１２７.０.０.１/video.mp4",
        "http://192.0.2.1/video.mp4",
    ],
)
def test_check_url_refuses_internal_addresses_in_any_written_form(url):
    with pytest.raises(UnsafeURL):
        check_url(url)


def test_its_refusal_names_the_address_in_a_sentence():
    with pytest.raises(UnsafeURL) as caught:
        check_url("http://127.0.0.1/video.mp4")
    assert caught.value.message == (
        "This address points inside our network (127.0.0.1, a loopback address); "
        "memories.ai cannot reach it."
    )
    with pytest.raises(UnsafeURL, match=r"0x7f\.1 is 127\.0\.0\.1"):
        check_url("http://0x7f.1/")


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/video.mp4",
        "http://LOCALHOST:80/video.mp4",
        "http://localhost./video.mp4",
        "http://api.localhost/video.mp4",
        "http://fileserver/video.mp4",
        "http://nas.local/video.mp4",
        "http://wiki.internal/video.mp4",
        "http://printer.home.arpa/video.mp4",
    ],
)
def test_check_url_refuses_localhost_and_internal_names(url):
    with pytest.raises(UnsafeURL, match="inside our network"):
        check_url(url)


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://example.com/video.mp4", "http"),
        ("file:///etc/passwd", "http"),
        ("javascript:alert(1)", "http"),
        ("example.com/video.mp4", "http"),
        ("https://user:secret@example.com/video.mp4", "user name and password"),
        ("https://user@example.com/video.mp4", "user name and password"),
        ("https:///video.mp4", "no host"),
        ("https://example.com:8080/video.mp4", "port 8080"),
        ("https://example.com:22/video.mp4", "port 22"),
        ("https://example.com:0/video.mp4", "port"),
        ("https://example.com:99999/video.mp4", "port"),
        ("https://example.com/" + "a" * 2100, "too long"),
        ("https://example.com/my video.mp4", "spaces"),
        ("https://example.com/\nvideo.mp4", "control"),
        ("https://example.com\\@127.0.0.1/video.mp4", "backslash"),
        ("https://exa%6dple.com/video.mp4", "percent"),
        ("", "Enter"),
    ],
)
def test_check_url_refuses_malformed_and_unsafe_urls_with_a_reason(url, fragment):
    with pytest.raises(UnsafeURL, match=fragment):
        check_url(url)


def test_unsafe_url_is_a_value_error_with_its_message():
    with pytest.raises(ValueError) as caught:
        check_url("ftp://example.com/")
    assert isinstance(caught.value, UnsafeURL)
    assert caught.value.message == str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/video.mp4",
        "http://example.com/video.mp4",
        "https://cdn.example.com:443/path/to/video.mp4?token=abc&x=1#t=10",
        "http://example.com:80/video.mp4",
        "https://videos.example.co.uk/a/b/c.m3u8",
        "https://8.8.8.8/video.mp4",
        "https://[2606:4700:4700::1111]/video.mp4",
        "https://bücher.example/video.mp4",
        "HTTPS://EXAMPLE.COM/Video.MP4",
    ],
)
def test_check_url_accepts_normal_public_urls(url):
    assert check_url(url) == url


def test_check_url_returns_the_url_without_surrounding_whitespace():
    assert check_url("  https://example.com/video.mp4 \n") == "https://example.com/video.mp4"


def test_check_url_accepts_other_ports_only_when_allowed():
    assert check_url("https://example.com:8443/v.mp4", allowed_ports=(443, 8443))
    with pytest.raises(UnsafeURL):
        check_url("https://example.com:8443/v.mp4", allowed_ports=(443,))


@pytest.fixture
def private_switch_on(settings):
    """URL_PROBE_ALLOW_PRIVATE on, with the production ports."""
    settings.URL_PROBE_ALLOW_PRIVATE = True
    settings.URL_PROBE_ALLOWED_PORTS = [80, 443]


@pytest.mark.parametrize("url", ["http://127.0.0.1/video.mp4", "http://[::1]/video.mp4"])
def test_the_private_switch_lets_loopback_addresses_through(private_switch_on, url):
    assert check_url(url, **address_options()) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/video.mp4",
        "http://10.0.0.5/video.mp4",
        "http://sandbox/video.mp4",
    ],
)
def test_the_private_switch_keeps_other_internal_hosts_and_names_out(private_switch_on, url):
    with pytest.raises(UnsafeURL, match="inside our network"):
        check_url(url, **address_options())


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/video.mp4",
        "http://user:pw@127.0.0.1/video.mp4",
        "http://127.0.0.1:8000/video.mp4",
        "http://[fe80::1%25eth0]/video.mp4",
    ],
)
def test_the_private_switch_keeps_the_other_checks(private_switch_on, url):
    with pytest.raises(UnsafeURL):
        check_url(url, **address_options())


def test_extra_allowed_networks_let_only_those_networks_through():
    assert check_url("http://127.0.0.1/v.mp4", extra_allowed_networks=["127.0.0.0/8"])
    with pytest.raises(UnsafeURL):
        check_url("http://10.0.0.1/v.mp4", extra_allowed_networks=["127.0.0.0/8"])
