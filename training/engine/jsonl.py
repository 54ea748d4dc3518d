"""What the engine's generate and score commands share: reading their JSONL input, checking a
conversation's messages, batching, and one-line error texts for the output file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def records_read(
    path: str | Path, *, name: str, required: tuple[str, ...], error: type[ValueError]
) -> list[dict[str, Any]]:
    """The file's records (blank lines skipped); raises `error` naming the file field (`name`) and
    the first line that cannot be read, is not JSON, or is not an object with the required keys."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise error(f"cannot read {name}: {exc}") from exc
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{name} line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(record, dict) or not set(required) <= set(record):
            keys = ", ".join(required[:-1]) + " and " + required[-1] if len(required) > 1 else required[0]
            raise error(f"{name} line {number}: needs {keys}")
        records.append(record)
    return records


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
