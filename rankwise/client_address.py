"""The client's address, believing X-Forwarded-For only from the proxies named in RANKWISE_TRUSTED_PROXIES.

Login limits (django-axes) and the API's anonymous throttle key on it. Anyone can send the header, so
it only means something when the peer that sent it is one of our proxies; then the client is the
right-most address in it that is not a trusted proxy (each proxy appends the peer it saw, so the
entries left of that one are whatever the client wrote). Not django-ipware: its trusted proxies are
looked for in the header, which the client writes, not in the peer's address.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: HttpRequest) -> str:
    """The address of the client that made `request`: REMOTE_ADDR, unless that is a trusted proxy and
    X-Forwarded-For names who it forwarded for. Never empty ("unknown" without any address)."""
    peer = request.META.get("REMOTE_ADDR") or "unknown"
    networks = _networks(tuple(settings.RANKWISE_TRUSTED_PROXIES))
    if not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            # Not an address: our proxy did not write it, so nothing at or left of it is believed.
            return client
        client = hop
        if not _trusted(hop, networks):
            return hop
    return client
