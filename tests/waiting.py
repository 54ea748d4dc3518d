"""Waiting for a state in tests: poll the condition until it holds, with a deadline generous enough
for a machine whose cores are busy with other work (the suite must pass there too).

Never synchronise by sleeping a fixed time: poll for the state the test needs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

# Seconds a test waits for a state before it fails; RANKWISE_TEST_WAIT_SECONDS raises it further.
DEADLINE_S = float(os.environ.get("RANKWISE_TEST_WAIT_SECONDS", "600"))
POLL_S = 0.2


def wait_until(
    condition: Callable[[], T], *, what: str | Callable[[], str], timeout: float = DEADLINE_S
) -> T:
    """Polls `condition` until it returns something true and returns that; fails the test naming
    `what` it waited for (a text, or a function that describes the state then) once `timeout` seconds
    have passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:.0f} s for {what if isinstance(what, str) else what()}")
        time.sleep(POLL_S)
