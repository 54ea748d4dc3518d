"""Run mechanics: resuming from the newest checkpoint, and failures that end in an "end" line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.training.engine.conftest import ROOT, engine, metrics_read, spec_write
from training.engine.synthetic import jsonl_write, synthetic_demonstrations


def _sft_spec(model: Path, train: Path, out: Path, max_steps: int) -> dict:
    return {
        "method": "sft",
        "base_model": str(model),
        "output_dir": str(out),
        "train_file": str(train),
        "eval_fraction": 0,
        "hyperparameters": {
            "max_steps": max_steps,
            "save_steps": 3,
            "logging_steps": 1,
            "learning_rate": 1e-3,
        },
    }


@pytest.mark.training
def test_resume_continues_from_the_newest_checkpoint(tiny_model: Path, tmp_path: Path) -> None:
    train = jsonl_write(synthetic_demonstrations(32), tmp_path / "demos.jsonl")
    out = tmp_path / "run"
    # A first attempt that stopped at step 6 (as if the worker died), then a retry with --resume.
    first = engine("run", str(spec_write(tmp_path / "a.json", _sft_spec(tiny_model, train, out, 6))))
    assert first.returncode == 0, first.stderr[-3000:]
    assert (out / "checkpoints" / "checkpoint-6").is_dir()
    retry = engine(
        "run", str(spec_write(tmp_path / "b.json", _sft_spec(tiny_model, train, out, 9))), "--resume"
    )
    assert retry.returncode == 0, retry.stderr[-3000:]

    lines = metrics_read(out)
    starts = [i for i, line in enumerate(lines) if line.get("event") == "start"]
    assert len(starts) == 2
    resumed_steps = [line["step"] for line in lines[starts[1] :] if "loss" in line]
    assert resumed_steps == [7, 8, 9]
    assert "resuming from" in (out / "engine.log").read_text()
    assert json.loads((out / "result.json").read_text())["status"] == "succeeded"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"question": "hi", "answer": "hello"}], "sft needs rows with"),
        (None, "no such file"),
    ],
)
def test_bad_dataset_fails_with_an_end_line(
    tiny_model: Path, tmp_path: Path, rows: list | None, message: str
) -> None:
    train = tmp_path / "data.jsonl"
    if rows is not None:
        jsonl_write(rows, train)
    out = tmp_path / "run"
    result = engine("run", str(spec_write(tmp_path / "s.json", _sft_spec(tiny_model, train, out, 2))))
    assert result.returncode == 1
    end = metrics_read(out)[-1]
    assert end["event"] == "end" and end["status"] == "failed" and message in end["error"]
    outcome = json.loads((out / "result.json").read_text())
    assert outcome["status"] == "failed" and message in outcome["error"]
    assert "failed" in (out / "model_card.md").read_text()


@pytest.mark.training
def test_sigterm_ends_the_run_as_failed_with_its_outputs(tiny_model: Path, tmp_path: Path) -> None:
    train = jsonl_write(synthetic_demonstrations(32), tmp_path / "demos.jsonl")
    out = tmp_path / "run"
    spec = spec_write(tmp_path / "s.json", _sft_spec(tiny_model, train, out, 100_000))
    process = subprocess.Popen([sys.executable, "-m", "training.engine", "run", str(spec)], cwd=ROOT)
    try:
        deadline = time.time() + 60
        while not ((out / "metrics.jsonl").is_file() and "loss" in (out / "metrics.jsonl").read_text()):
            assert time.time() < deadline and process.poll() is None
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 1
    finally:
        process.kill()
    end = metrics_read(out)[-1]
    assert end["event"] == "end" and end["status"] == "failed" and "terminated by signal" in end["error"]
    assert json.loads((out / "result.json").read_text())["status"] == "failed"
