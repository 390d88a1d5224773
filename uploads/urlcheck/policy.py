"""How the portal checks user-given URLs, in one place for the form and the sender."""

from typing import Any, Protocol

from django.conf import settings

# URL_PROBE_ALLOW_PRIVATE lets only loopback through (tests and the sandbox serve
# there): every other internal address stays refused, so no test and no
# misconfigured machine can make the portal reach into the company network.
LOOPBACK = ("127.0.0.0/8", "::1/128")


class _Team(Protocol):
    large_files_allowed: bool


def address_options() -> dict[str, Any]:
    """Options for addresses.check_url (and the probe's own address checks)."""
    return {
        "extra_allowed_networks": LOOPBACK if settings.URL_PROBE_ALLOW_PRIVATE else (),
        "allowed_ports": settings.URL_PROBE_ALLOWED_PORTS,
    }


def probe_options(team: _Team) -> dict[str, Any]:
    """Options for probe.probe_url and probe.recheck_url on behalf of a team."""
    return {
        **address_options(),
        "large_files_allowed": team.large_files_allowed,
        "deadline": settings.URL_PROBE_DEADLINE,
    }


def webhook_options() -> dict[str, Any]:
    """Options for probe.post: the URL checker's refusals, and the hosts allowed explicitly."""
    return {
        **address_options(),
        "trusted_hosts": settings.WEBHOOK_ALLOWED_HOSTS,
        "deadline": settings.WEBHOOK_DEADLINE,
    }


def webhook_host_allowed(host: str | None) -> bool:
    """Whether an administrator allowed this host name for webhooks (WEBHOOK_ALLOWED_HOSTS)."""
    host = (host or "").lower().rstrip(".")
    return bool(host) and host in {
        h.strip().lower().rstrip(".") for h in settings.WEBHOOK_ALLOWED_HOSTS
    }
