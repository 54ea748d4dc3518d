"""Where training data lives under the data directory, and file hashes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from django.conf import settings


def snapshots_root() -> Path:
    return Path(settings.DATA_DIR) / "snapshots"


def runs_root() -> Path:
    return Path(settings.DATA_DIR) / "runs"


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_tail(path: Path, tail_bytes: int) -> str:
    """The last `tail_bytes` of a text file, or "" when it does not exist."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - tail_bytes))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
