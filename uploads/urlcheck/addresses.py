"""Address rules for the video URLs people submit: which hosts memories.ai can reach.

Pure functions, no DNS and no Django. The form calls `check_url` on what a person
typed; the probe (`uploads.urlcheck.probe`) calls it again on every redirect and on every
host a playlist names, and calls `address_problem` on every address a host name
resolves to before it connects.

Why our own tables instead of `ipaddress`'s flags: Python 3.12 counts
`64:ff9b::a00:1` (NAT64 of 10.0.0.1) and `2002:a00:1::` (6to4 of 10.0.0.1) as
global, and `::ffff:127.0.0.1` as not loopback. IPv6 forms that carry an IPv4
address are judged here by the IPv4 address inside.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

import idna

type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
type IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = (80, 443)


class UnsafeURL(ValueError):
    """A URL the portal will not hand to memories.ai; `message` is shown beside the field."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- address tables -----------------------------------------------------------
# Each entry: network, what it is (shown to the person), and whether it lies inside
# our own network (loopback, private...) or is simply not a public address.
# Sources: IANA IPv4/IPv6 Special-Purpose Address Registries, RFC 6598, RFC 8215.

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

_IPV4_NON_PUBLIC: tuple[tuple[ipaddress.IPv4Network, str, bool], ...] = (
    (_V4("0.0.0.0/8"), "an unspecified address", True),
    (_V4("10.0.0.0/8"), "a private address", True),
    (_V4("100.64.0.0/10"), "a carrier-grade NAT address", True),
    (_V4("127.0.0.0/8"), "a loopback address", True),
    (_V4("169.254.0.0/16"), "a link-local address", True),
    (_V4("172.16.0.0/12"), "a private address", True),
    (_V4("192.0.0.0/24"), "a reserved protocol address", False),
    (_V4("192.0.2.0/24"), "a documentation address", False),
    (_V4("192.88.99.0/24"), "a reserved relay address", False),
    (_V4("192.168.0.0/16"), "a private address", True),
    (_V4("198.18.0.0/15"), "a benchmarking address", False),
    (_V4("198.51.100.0/24"), "a documentation address", False),
    (_V4("203.0.113.0/24"), "a documentation address", False),
    (_V4("224.0.0.0/4"), "a multicast address", False),
    (_V4("255.255.255.255/32"), "the broadcast address", True),
    (_V4("240.0.0.0/4"), "a reserved address", False),
)

_IPV6_UNSPECIFIED = ipaddress.IPv6Address("::")
_IPV6_LOOPBACK = ipaddress.IPv6Address("::1")
_IPV4_MAPPED = _V6("::ffff:0:0/96")
_IPV4_COMPATIBLE = _V6("::/96")
_NAT64 = _V6("64:ff9b::/96")
_SIX_TO_FOUR = _V6("2002::/16")
_TEREDO = _V6("2001::/32")
_GLOBAL_UNICAST = _V6("2000::/3")

# Checked after the forms that embed IPv4. Everything outside 2000::/3 that is not
# listed here is refused as reserved.
_IPV6_NON_PUBLIC: tuple[tuple[ipaddress.IPv6Network, str, bool], ...] = (
    # Local-use NAT64 (RFC 8215): translated by some operator's own gateway, and the
    # position of the IPv4 inside depends on a prefix length we cannot know.
    (_V6("64:ff9b:1::/48"), "a local-use NAT64 address", True),
    (_V6("fc00::/7"), "a private (unique local) address", True),
    (_V6("fe80::/10"), "a link-local address", True),
    (_V6("fec0::/10"), "a site-local address", True),
    (_V6("ff00::/8"), "a multicast address", False),
    (_V6("2001:db8::/32"), "a documentation address", False),
    (_V6("3fff::/20"), "a documentation address", False),
    (_V6("2001::/23"), "a reserved protocol address", False),
)


def _v4(value: int) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(value & 0xFFFFFFFF)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...] | None:
    """The IPv4 addresses an IPv6 address carries, or None if it carries none."""
    value = int(ip)
    if ip in _IPV4_MAPPED or ip in _NAT64:
        return (_v4(value),)
    if ip in _IPV4_COMPATIBLE and ip not in (_IPV6_UNSPECIFIED, _IPV6_LOOPBACK):
        return (_v4(value),)
    if ip in _SIX_TO_FOUR:
        return (_v4(value >> 80),)
    if ip in _TEREDO:
        # Server address in bits 32-63, client address obfuscated in the last 32 bits.
        return (_v4(value >> 64), _v4(~value))
    return None


def address_problem(ip: IPAddress | str) -> tuple[str, bool] | None:
    """Why `ip` is not a public address, or None if it is public.

    Returns (description, inside_our_network), e.g. ("a loopback address", True).
    """
    if isinstance(ip, str):
        ip = ipaddress.ip_address(ip)
    if ip.version == 4:
        for network, description, internal in _IPV4_NON_PUBLIC:
            if ip in network:
                return description, internal
        return None
    if ip == _IPV6_UNSPECIFIED:
        return "an unspecified address", True
    if ip == _IPV6_LOOPBACK:
        return "a loopback address", True
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        for inner in embedded:
            problem = address_problem(inner)
            if problem is not None:
                description, internal = problem
                return f"an IPv6 form of {inner}, {description}", internal
        return None
    for network6, description, internal in _IPV6_NON_PUBLIC:
        if ip in network6:
            return description, internal
    if ip not in _GLOBAL_UNICAST:
        return "a reserved address", False
    return None


def is_public_address(ip: IPAddress | str) -> bool:
    """True if memories.ai (and the probe) may connect to `ip`."""
    return address_problem(ip) is None


def refusal_message(ip: IPAddress, written: str | None = None) -> str:
    """The sentence shown to a person whose URL leads to the non-public address `ip`."""
    problem = address_problem(ip)
    description, internal = problem if problem else ("not a public address", False)
    if not written or written.lower() == str(ip):
        shown = str(ip)
    elif ip.version == 6:
        shown = written  # "::ffff:10.0.0.1" reads better than Python's "::ffff:a00:1"
    else:
        shown = f"{written} is {ip}"
    if internal:
        return (
            f"This address points inside our network ({shown}, {description}); "
            "memories.ai cannot reach it."
        )
    return (
        f"This address is not on the public internet ({shown}, {description}); "
        "memories.ai cannot reach it."
    )


# --- host parsing ---------------------------------------------------------------

_DECIMAL = frozenset("0123456789")
_OCTAL = frozenset("01234567")
_HEX = frozenset("0123456789abcdefABCDEF")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")


def _inet_aton_part(part: str) -> int | None:
    if part[:2] in ("0x", "0X"):
        digits = part[2:]
        if not digits or not _HEX.issuperset(digits):
            return None
        return int(digits, 16)
    if part[0] == "0":
        return int(part, 8) if _OCTAL.issuperset(part) else None
    return int(part) if _DECIMAL.issuperset(part) else None


def parse_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """Parse `text` as glibc's inet_aton does (which getaddrinfo uses for numeric hosts).

    Accepts 1 to 4 parts in decimal, octal (leading 0) or hex (0x); the last part
    fills the remaining bytes: `127.1`, `0x7f.1`, `2130706433`, `0177.0.0.1`.
    """
    parts = text.split(".")
    if not text or len(parts) > 4 or not all(parts):
        return None
    values = []
    for part in parts:
        value = _inet_aton_part(part)
        if value is None:
            return None
        values.append(value)
    *leading, last = values
    spare_bits = 8 * (5 - len(parts))
    if any(value > 0xFF for value in leading) or last >= 1 << spare_bits:
        return None
    number = 0
    for value in leading:
        number = (number << 8) | value
    number = (number << spare_bits) | last
    return ipaddress.IPv4Address(number)


def _ends_in_a_number(host: str) -> bool:
    # The WHATWG URL rule browsers use: a host whose last label is a number must be
    # an IPv4 address; `1.2.3.999` is an error, never a DNS name.
    last = host.rsplit(".", 1)[-1]
    if last[:2] in ("0x", "0X"):
        return _HEX.issuperset(last[2:])
    return bool(last) and _DECIMAL.issuperset(last)


def _parse_ipv6(text: str, written: str) -> ipaddress.IPv6Address:
    if "%" in text:
        raise UnsafeURL(
            f"This address uses an IPv6 zone ({written}), which only works inside "
            "our network; memories.ai cannot reach it."
        )
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        raise UnsafeURL(f"The host ({written}) is not a valid IPv6 address.") from None


def normalize_host(host: str) -> str:
    """Lower-case ASCII form of a URL host: IDNA-encoded, without a trailing dot.

    IPv6 literals keep their brackets. Raises UnsafeURL for hosts no resolver should see.
    """
    if host.startswith("[") and host.endswith("]"):
        return host.lower()
    if "%" in host:
        raise UnsafeURL(f"The host name ({host}) must not contain percent-encoding.")
    if not host.isascii():
        # The mapping browsers and requests use: full-width digits become ASCII digits,
        # so "１２７.０.０.１" is caught as 127.0.0.1 below.
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            raise UnsafeURL(f"The host name ({host}) is not a valid domain name.") from None
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host or not _HOST_CHARS.issuperset(host) or ".." in host or len(host) > 253:
        raise UnsafeURL(f"The host name ({host or 'empty'}) is not a valid domain name.")
    return host


def parse_host(host: str) -> IPAddress | None:
    """The IP address a URL host denotes in any written form, or None for a DNS name.

    `127.1`, `0x7f.1`, `2130706433`, `017700000001`, `[::ffff:127.0.0.1]` and `::1` are
    all addresses. Raises UnsafeURL for IPv6 zone ids and malformed literals.
    """
    if host.startswith("["):
        if not host.endswith("]"):
            raise UnsafeURL(f"The host ({host}) is not a valid IPv6 address.")
        return _parse_ipv6(host[1:-1], host)
    if ":" in host:
        return _parse_ipv6(host, host)
    host = normalize_host(host)
    ip = parse_ipv4(host)
    if ip is None and _ends_in_a_number(host):
        raise UnsafeURL(f"The host ({host}) looks like an IP address but is not a valid one.")
    return ip


# --- names ----------------------------------------------------------------------

# Names that only resolve inside an organisation's network (RFC 6761, RFC 8375,
# ICANN's reserved .internal, and suffixes that were never delegated).
_INTERNAL_SUFFIXES = (
    "localhost",
    "localdomain",
    "local",
    "internal",
    "intranet",
    "lan",
    "corp",
    "home",
    "home.arpa",
)


def internal_name_problem(host: str) -> str | None:
    """Why a DNS name (normalized) only makes sense inside our network, or None."""
    if "." not in host:
        return (
            f"This address names a computer inside our network ({host}); "
            "memories.ai cannot reach it."
        )
    for suffix in _INTERNAL_SUFFIXES:
        if host == suffix or host.endswith("." + suffix):
            return (
                f"This address uses a name that only works inside our network ({host}); "
                "memories.ai cannot reach it."
            )
    return None


# --- whole URLs -----------------------------------------------------------------


def _split_netloc(netloc: str) -> tuple[str, int | None]:
    if "@" in netloc:
        raise UnsafeURL(
            "Remove the user name and password from this address: memories.ai must be "
            "able to download the video without logging in."
        )
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise UnsafeURL(f"The host ({netloc}) is not a valid IPv6 address.")
        host, rest = netloc[: end + 1], netloc[end + 1 :]
    else:
        host, colon, port_text = netloc.partition(":")
        rest = colon + port_text
    if not rest or rest == ":":
        return host, None
    port_text = rest[1:]
    if rest[0] != ":" or not _DECIMAL.issuperset(port_text) or not 0 < int(port_text) < 65536:
        raise UnsafeURL(f"The port in this address ({rest}) is not valid.")
    return host, int(port_text)


def check_url(
    url: str,
    *,
    allowed_ports: Iterable[int] = DEFAULT_PORTS,
    extra_allowed_networks: Iterable[IPNetwork | str] = (),
) -> str:
    """Check a submitted video URL without any DNS lookup; return it without surrounding space.

    Refuses: schemes other than http/https, user:password, more than 2048 characters,
    no host, non-public literal addresses in any written form, `localhost`, single-label
    and internal-only names, ports other than `allowed_ports` (80 and 443 by default).

    `extra_allowed_networks` lets literal addresses in the listed networks through
    (URL_PROBE_ALLOW_PRIVATE passes loopback here, for tests and the sandbox); every
    other internal address, and every internal-only name, stays refused.
    """
    if not isinstance(url, str) or not url.strip():
        raise UnsafeURL("Enter the address of the video.")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(
            f"This address is too long ({len(url)} characters); the limit is {MAX_URL_LENGTH}."
        )
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise UnsafeURL("This address contains spaces or control characters; remove them.")
    if "\\" in url:
        # Browsers read "\" as "/", Python does not: the two would disagree on the host.
        raise UnsafeURL("This address contains a backslash (\\); use forward slashes (/).")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise UnsafeURL("This is not a valid web address.") from None
    if parts.scheme not in ("http", "https") or not url.lower().startswith(parts.scheme + "://"):
        raise UnsafeURL("Only http:// and https:// addresses can be sent to memories.ai.")
    host, port = _split_netloc(parts.netloc)
    if not host or host == "[]":
        raise UnsafeURL("This address has no host name.")
    ip = parse_host(host)
    allowed = [ipaddress.ip_network(net) for net in extra_allowed_networks]
    if ip is not None:
        if not is_public_address(ip) and not any(ip in net for net in allowed):
            raise UnsafeURL(refusal_message(ip, written=host.strip("[]")))
    else:
        problem = internal_name_problem(normalize_host(host))
        if problem:
            raise UnsafeURL(problem)
    ports = tuple(allowed_ports)
    if port is not None and port not in ports:
        shown = " and ".join(str(p) for p in ports) if ports else "none"
        raise UnsafeURL(
            f"This address uses port {port}; only the standard web ports ({shown}) are accepted."
        )
    return url
