"""The client address that login limits and throttles key on: X-Forwarded-For only from our proxies."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from rankwise.client_address import client_address


def _address(peer: str | None, forwarded_for: str | None = None) -> str:
    request = RequestFactory().get("/")
    request.META.pop("REMOTE_ADDR", None)
    if peer is not None:
        request.META["REMOTE_ADDR"] = peer
    if forwarded_for is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client_address(request)


def test_without_trusted_proxies_the_header_is_ignored(settings) -> None:
    settings.RANKWISE_TRUSTED_PROXIES = []
    assert _address("203.0.113.66", "198.51.100.7") == "203.0.113.66"


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        ("203.0.113.66", "198.51.100.7", "203.0.113.66"),  # not our proxy: its header means nothing
        ("10.0.0.2", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", "192.0.2.1, 198.51.100.7", "198.51.100.7"),  # the left one is the client's own
        ("10.0.0.2", "198.51.100.7, 10.0.0.9", "198.51.100.7"),  # two of our proxies in a row
        ("10.0.0.2", "not-an-address, 198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", "198.51.100.7, not-an-address", "10.0.0.2"),  # our proxy wrote no such thing
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "10.0.0.3", "10.0.0.3"),  # only proxies: the farthest one
        ("fd00::2", "2001:db8::7", "2001:db8::7"),
        (None, "198.51.100.7", "unknown"),
    ],
)
def test_behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client(
    settings, peer: str | None, forwarded_for: str | None, expected: str
) -> None:
    settings.RANKWISE_TRUSTED_PROXIES = ["10.0.0.0/24", "fd00::/64"]
    assert _address(peer, forwarded_for) == expected
