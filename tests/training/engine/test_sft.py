"""SFT through the CLI on the tiny model lowers the loss on demonstrations and writes every output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.training.engine.conftest import engine, metrics_read, spec_write
from training.engine.jsonl import jsonl_write
from training.engine.testing.synthetic import synthetic_demonstrations


@pytest.mark.training
def test_sft_lowers_loss_and_writes_outputs(tiny_model: Path, tmp_path: Path) -> None:
    train = jsonl_write(synthetic_demonstrations(48, seed=1), tmp_path / "demos.jsonl")
    out = tmp_path / "run"
    spec = {
        "method": "sft",
        "base_model": str(tiny_model),
        "output_dir": str(out),
        "train_file": str(train),
        "eval_fraction": 0.25,
        "hyperparameters": {"max_steps": 16, "logging_steps": 4, "eval_steps": 100, "learning_rate": 3e-3},
        "snapshot": {"id": 7, "sha256": "abc123"},
        "sample_prompts": ["What is 2 plus 3?"],
    }
    result = engine("run", str(spec_write(tmp_path / "spec.json", spec)))
    assert result.returncode == 0, result.stderr[-3000:]

    lines = metrics_read(out)
    assert lines[0] == {**lines[0], "event": "start", "method": "sft", "total_steps": 16}
    assert lines[-1]["event"] == "end" and lines[-1]["status"] == "succeeded"
    losses = [line["loss"] for line in lines if "loss" in line]
    assert losses[-1] < losses[0] - 0.2
    assert all("time" in line for line in lines)

    outcome = json.loads((out / "result.json").read_text())
    assert outcome["status"] == "succeeded" and outcome["model_dir"] == "final"
    assert outcome["final_metrics"]["eval_loss"] < losses[0]
    assert outcome["samples"][0]["prompt"] == "What is 2 plus 3?"
    assert outcome["samples"][0]["before"] != outcome["samples"][0]["after"]
    assert outcome["peak_memory_mb"] > 0 and outcome["seconds"] > 0
    assert (out / "final" / "adapter_config.json").is_file()
    assert list((out / "checkpoints").glob("checkpoint-*"))
    card = (out / "model_card.md").read_text()
    assert "abc123" in card and str(tiny_model) in card and "learning_rate" in card
    assert (out / "engine.log").stat().st_size > 0
