"""Where training data lives under the data directory, and file hashes."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from django.conf import settings

from rankwise.errors import ValidationFailed


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


# A model id as the Hugging Face hub writes them: "name" or "owner/name".
_HUB_ID = re.compile(r"[\w.-]+(/[\w.-]+)?")


def model_roots() -> list[Path]:
    """The folders base models given as a path may come from (settings.RANKWISE_MODEL_ROOTS)."""
    default = Path(settings.RANKWISE_DEFAULT_MODEL).expanduser().resolve().parent
    return [Path(settings.DATA_DIR).resolve() / "models", default, *settings.RANKWISE_MODEL_ROOTS]


def base_model_check(*, value: str, field: str) -> str:
    """`value` if it names a hub model id or a path under model_roots(); else ValidationFailed naming
    `field`. A path is resolved first (links, ..), so none leads out of the roots."""
    local = Path(value).expanduser()
    if not local.is_absolute() and not value.startswith((".", "~")) and not local.exists():
        if _HUB_ID.fullmatch(value):
            return value
        raise ValidationFailed(
            f"{field} is neither a model id nor a path.",
            details=[
                {"field": field, "reason": "give a model id (owner/name) or a path under the model roots"}
            ],
        )
    resolved = local.resolve()
    if not any(resolved == root or root in resolved.parents for root in model_roots()):
        reason = (
            "must lie under RANKWISE_MODEL_ROOTS or the data directory's models;"
            " a run's output is used through its model version"
        )
        raise ValidationFailed(
            f"{field} is a path outside the model roots.", details=[{"field": field, "reason": reason}]
        )
    return value
