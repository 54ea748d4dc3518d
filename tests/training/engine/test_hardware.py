"""The launcher's settings against the engine's: precision from the engine wins, and a DeepSpeed launch
without the deepspeed package fails with a clear error instead of a traceback."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.training.engine.conftest import ROOT, metrics_read, spec_write
from training.engine.hardware import Hardware, launcher_apply
from training.engine.jsonl import jsonl_write
from training.engine.testing.synthetic import synthetic_preferences


def test_the_engines_precision_overrides_the_accelerate_configs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")  # what multi_gpu.yaml passes
    assert launcher_apply(Hardware(device="cpu", precision="fp32")) == "bf16"
    assert os.environ["ACCELERATE_MIXED_PRECISION"] == "no"
    monkeypatch.delenv("ACCELERATE_MIXED_PRECISION")  # plain `python -m training.engine`
    assert launcher_apply(Hardware(device="cuda", precision="bf16")) is None
    assert os.environ["ACCELERATE_MIXED_PRECISION"] == "bf16"  # TRL's PPO Accelerator reads it too


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is not None, reason="deepspeed is installed")
def test_deepspeed_launch_without_deepspeed_fails_the_run_with_a_clear_error(
    tiny_model: Path, tmp_path: Path
) -> None:
    train = jsonl_write(synthetic_preferences(8), tmp_path / "prefs.jsonl")
    out = tmp_path / "run"
    spec = {"method": "dpo", "base_model": str(tiny_model), "output_dir": str(out), "train_file": str(train)}
    # What `accelerate launch --config_file deepspeed_zero2.yaml` sets for the processes it starts.
    env = {**os.environ, "ACCELERATE_USE_DEEPSPEED": "true"}
    result = subprocess.run(
        [sys.executable, "-m", "training.engine", "run", str(spec_write(tmp_path / "s.json", spec))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    end = metrics_read(out)[-1]
    assert end["status"] == "failed"
    assert end["error"].startswith("LauncherError: the launcher asks for DeepSpeed")
    assert "pip install deepspeed" in end["error"]
    assert json.loads((out / "result.json").read_text())["error"] == end["error"]
