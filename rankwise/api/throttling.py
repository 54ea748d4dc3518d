"""DRF's rate throttles, keyed on the client address that rankwise/client_address.py finds.

DRF's own get_ident believes any X-Forwarded-For (NUM_PROXIES unset), so a client that writes a new
one with each request is a new anonymous client each time. Counts live in the shared cache.
"""

from __future__ import annotations

from rest_framework import throttling
from rest_framework.request import Request

from rankwise.client_address import client_address


class AnonRateThrottle(throttling.AnonRateThrottle):
    def get_ident(self, request: Request) -> str:
        return client_address(request._request)


class UserRateThrottle(throttling.UserRateThrottle):
    """Signed-in clients count by user; anonymous ones (if this is their only throttle) by address."""

    def get_ident(self, request: Request) -> str:
        return client_address(request._request)
