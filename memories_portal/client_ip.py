"""The address a request comes from, for the login lockout and the callback limits.

REMOTE_ADDR, unless the request comes from a trusted proxy (TRUSTED_PROXIES):
then the right-most address in X-Forwarded-For that is not a trusted proxy.
Proxies append the address they see, so the entries a client writes itself
are always further left and never chosen.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(proxies):
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _address(text):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _is_proxy(address, networks):
    return address is not None and any(address in network for network in networks)


def client_ip(request):
    remote = request.META.get("REMOTE_ADDR", "")
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not _is_proxy(_address(remote), networks):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed(forwarded.split(",")):
        address = _address(hop)
        if address is None:
            # Not written by a proxy of ours: stop at the last address we trust.
            break
        remote = str(address)
        if not _is_proxy(address, networks):
            break
    return remote
