"""JSON Lines, the one module for them: reading a file's records, writing rows, a streaming writer that
counts and hashes what it writes, and a reader of a growing file's new lines.

Standard library only (no torch, no Django), so the web app can import it cheaply too.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


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


def jsonl_write(rows: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Writes `rows` to `path` (replacing it, creating its folder), one JSON object per line; returns
    the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


class JsonlWriter:
    """Writes rows as JSONL (the export's byte format: compact, UTF-8) while counting rows and hashing
    the bytes. `close()` returns {"rows", "bytes", "sha256"}."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = path.open("wb")
        self.digest = hashlib.sha256()
        self.rows = 0
        self.bytes = 0

    def write(self, row: dict) -> None:
        data = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        self.handle.write(data)
        self.digest.update(data)
        self.rows += 1
        self.bytes += len(data)

    def close(self) -> dict[str, Any]:
        self.handle.close()
        return {"rows": self.rows, "bytes": self.bytes, "sha256": self.digest.hexdigest()}


class JsonlTail:
    """Reads complete new lines of a growing JSONL file; starts over if the file is replaced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read(self) -> list[dict[str, Any]]:
        """The records of the lines completed since the last read ([] when the file does not exist yet);
        a malformed line is logged and skipped."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:
            self.offset = 0
        if size == self.offset:
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read(size - self.offset)
        end = data.rfind(b"\n") + 1  # a half-written last line waits for the next read
        self.offset += end
        records = []
        for line in data[:end].splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("skipping a malformed line in %s", self.path)
        return records
