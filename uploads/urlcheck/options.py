"""The probe's options, as `probe_url`, `recheck_url` and `post` take them, and the
address rules they set.

`uploads.urlcheck.policy` builds them from settings; this module gives them one frozen
shape and judges URLs and resolved addresses by them. Pure: no network, no DNS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from uploads.urlcheck.addresses import (
    DEFAULT_PORTS,
    IPAddress,
    IPNetwork,
    UnsafeURL,
    address_problem,
    check_url,
)
from uploads.urlcheck.outcomes import ProbeRefused, shown

GB = 1024**3
DEFAULT_MAX_BYTES = 64 * 1024
DEFAULT_MAX_PLAYLIST_BYTES = 8 * 1024 * 1024

type Resolver = Callable[[str, int], Iterable[str | ipaddress.IPv4Address | ipaddress.IPv6Address]]


@dataclass(frozen=True)
class ProbeOptions:
    large_files_allowed: bool = False
    deadline: float = 5.0
    max_bytes: int = DEFAULT_MAX_BYTES
    max_playlist_bytes: int = DEFAULT_MAX_PLAYLIST_BYTES
    max_redirects: int = 5
    allowed_ports: tuple[int, ...] = DEFAULT_PORTS
    max_variants: int = 20
    size_limit: int = GB
    resolver: Resolver | None = None
    extra_allowed_networks: tuple[IPNetwork, ...] = ()
    # Host names a person allowed explicitly (WEBHOOK_ALLOWED_HOSTS): these may be
    # internal, on any port; every other host is judged as always.
    trusted_hosts: frozenset[str] = frozenset()

    def trusts(self, host: str | None) -> bool:
        return bool(host) and str(host).lower().rstrip(".") in self.trusted_hosts

    def over_size_limit(self, size: int) -> bool:
        return not self.large_files_allowed and size > self.size_limit

    def checked_url(self, url: str, *, redirected: bool = False) -> str:
        """`check_url` with these options (no DNS); raises ProbeRefused."""
        parts = urlsplit(url.strip())
        if parts.scheme in ("http", "https") and self.trusts(parts.hostname):
            return url.strip()
        try:
            return check_url(
                url,
                allowed_ports=self.allowed_ports,
                extra_allowed_networks=self.extra_allowed_networks,
            )
        except UnsafeURL as error:
            prefix = f"It redirects to {shown(url)}. " if redirected else ""
            raise ProbeRefused(prefix + error.message) from None

    def pinned_address(self, host: str, addresses: list[IPAddress]) -> str:
        """The address to connect to for `host`, once every address it has is allowed."""
        if not self.trusts(host):
            for ip in addresses:
                if address_problem(ip) is not None and not any(
                    ip in network for network in self.extra_allowed_networks
                ):
                    raise ProbeRefused(_private_name_message(host, ip))
        return str(addresses[0])


def _private_name_message(host: str, ip: IPAddress) -> str:
    problem = address_problem(ip)
    description, internal = problem if problem else ("not a public address", False)
    where = "inside our network" if internal else "outside the public internet"
    return (
        f"The server name {host} leads to an address {where} ({ip}, {description}); "
        "memories.ai cannot reach it."
    )


def resolved_addresses(host: str, values: Iterable[object]) -> list[IPAddress]:
    """What a resolver gave, as addresses (a zone index dropped); refuses anything else."""
    addresses: list[IPAddress] = []
    for value in values:
        try:
            addresses.append(ipaddress.ip_address(str(value).partition("%")[0]))
        except ValueError:
            raise ProbeRefused(f"The server name {host} resolves to an invalid address.") from None
    return addresses


def make_options(
    *,
    allowed_ports: Iterable[int] = DEFAULT_PORTS,
    extra_allowed_networks: Iterable[IPNetwork | str] = (),
    trusted_hosts: Iterable[str] = (),
    **options: Any,
) -> ProbeOptions:
    """The options from what a caller gave (any iterables, networks written as text)."""
    return ProbeOptions(
        allowed_ports=tuple(allowed_ports),
        extra_allowed_networks=tuple(ipaddress.ip_network(n) for n in extra_allowed_networks),
        trusted_hosts=frozenset(h.strip().lower().rstrip(".") for h in trusted_hosts if h.strip()),
        **options,
    )
