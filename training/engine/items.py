"""What the generate and score commands share besides reading JSONL: the check of a conversation's
messages, batching, and the one-line error text of an output line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def messages_check(messages: Any) -> None:
    """Raises ValueError unless `messages` is a non-empty list of {role, content: str}."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    for message in messages:
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("content"), str)
            or not message.get("role")
        ):
            raise ValueError("each message needs a role and a string content")


def batches(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def error_text(exc: Exception) -> str:
    """An error for an output line: its type and message, at most 1,000 characters."""
    return f"{type(exc).__name__}: {exc}"[:1000]
