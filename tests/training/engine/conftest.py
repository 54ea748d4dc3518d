"""Engine fixtures: the tiny model built once per session, and a helper that runs the CLI as the Django
side does (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from training.engine.tiny import build_tiny_model

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def engine(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Runs `python -m training.engine ARGS` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "training.engine", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def spec_write(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(json.dumps(spec))
    return path


def metrics_read(output_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (output_dir / "metrics.jsonl").read_text().splitlines()]
