"""The engine as a subprocess: its command line, its defaults and its spec check.

Django never imports the engine: specs are checked by running `python -m training.engine validate`
(settings.RANKWISE_ENGINE_PYTHON), and workers run it through training.jobs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings

from rankwise.errors import ValidationFailed
from training.models import Method
from training.services.storage import runs_root

ENGINE_TIMEOUT_S = 60


def default_model() -> str:
    """The model the launch form suggests: settings.RANKWISE_DEFAULT_MODEL (the tiny local one by default)."""
    return settings.RANKWISE_DEFAULT_MODEL


def engine_command(*args: str) -> list[str]:
    """The command line that runs the engine CLI with the configured interpreter."""
    return [settings.RANKWISE_ENGINE_PYTHON or sys.executable, "-m", "training.engine", *args]


def _engine_call(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        engine_command(*args), cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S
    )


@lru_cache(maxsize=16)
def _method_defaults(method: str) -> str:
    result = _engine_call("defaults", method)
    if result.returncode != 0:
        raise ValidationFailed(
            f"The engine has no defaults for {method!r}: {result.stderr.strip()}",
            details=[{"field": "method", "reason": result.stderr.strip()}],
        )
    return result.stdout


def method_defaults(*, method: str) -> dict[str, Any]:
    """The engine's default hyperparameters for `method` (asked once per process, then cached)."""
    if method not in Method.values:
        raise ValidationFailed(
            f"Unknown method {method!r}", details=[{"field": "method", "reason": "unknown"}]
        )
    return json.loads(_method_defaults(method))


def spec_validate(*, spec: Mapping[str, object]) -> dict[str, Any]:
    """The engine's normalised spec (defaults filled in), or ValidationFailed naming the field."""
    runs_root().mkdir(parents=True, exist_ok=True)
    path = runs_root() / f".validate-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(spec))
    try:
        result = _engine_call("validate", str(path))
    finally:
        path.unlink(missing_ok=True)
    if result.returncode == 2:
        message = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "invalid spec"
        message = message.removeprefix("invalid spec: ")
        field, _, reason = message.partition(": ")
        raise ValidationFailed(
            f"Invalid run spec: {message}", details=[{"field": field, "reason": reason or message}]
        )
    if result.returncode != 0:
        raise RuntimeError(
            f"`training.engine validate` failed ({result.returncode}): {result.stderr[-2000:]}"
        )
    return json.loads(result.stdout)
