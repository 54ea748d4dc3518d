"""Run mechanics: resuming from the newest checkpoint (PPO too), and failures that end in an "end" line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.training.engine.conftest import ROOT, engine, metrics_read, spec_write
from training.engine.jsonl import jsonl_write
from training.engine.testing.synthetic import synthetic_demonstrations, synthetic_preferences


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


@pytest.mark.training
def test_ppo_resume_replays_the_updates_after_its_last_complete_checkpoint(
    tiny_model: Path, reward_run: Path, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    from training.engine.generation import generate
    from training.engine.loading import model_load_causal_lm, tokenizer_load
    from training.engine.methods.common import PPO_VALUE_FILE

    # 8 prompts and a batch of 8: each update is one pass over the prompts, so after a resume the data comes
    # in the order the first attempt saw, and the replayed update must give that attempt's figures again.
    train = jsonl_write(synthetic_preferences(8, seed=2, conversational=True), tmp_path / "prompts.jsonl")
    out = tmp_path / "run"
    spec = {
        "method": "ppo",
        "base_model": str(tiny_model),
        "reward_model": str(reward_run / "final"),
        "output_dir": str(out),
        "train_file": str(train),
        "eval_fraction": 0,
        "hyperparameters": {
            "max_steps": 3,
            "learning_rate": 2e-3,
            "per_device_train_batch_size": 8,
            "response_length": 8,
            "num_ppo_epochs": 1,
            "logging_steps": 1,
            "save_steps": 2,
            "save_total_limit": 3,
        },
    }
    path = spec_write(tmp_path / "spec.json", spec)
    first = engine("run", str(path))
    assert first.returncode == 0, first.stderr[-3000:]
    first_steps = {line["step"]: line for line in metrics_read(out) if "objective/scores" in line}
    first_adapter = load_file(out / "final" / "adapter_model.safetensors")
    # As if the worker died while writing the step-3 checkpoint: its value model never reached the disk, so
    # the retry must pass over it, resume from step 2 and do update 3 again.
    (out / "checkpoints" / "checkpoint-3" / PPO_VALUE_FILE).unlink()

    retry = engine("run", str(path), "--resume")
    assert retry.returncode == 0, retry.stderr[-3000:]
    assert f"resuming from {out / 'checkpoints' / 'checkpoint-2'}" in (out / "engine.log").read_text()
    lines = metrics_read(out)
    starts = [i for i, line in enumerate(lines) if line.get("event") == "start"]
    assert len(starts) == 2 and lines[starts[1]]["total_steps"] == 3
    resumed = [line for line in lines[starts[1] :] if "objective/scores" in line]
    assert [line["step"] for line in resumed] == [3]
    # Policy, value model, optimizer, scheduler, RNG and counters all came back: the same figures as before.
    for key in ("objective/scores", "objective/kl", "loss/value_avg", "loss", "learning_rate", "episode"):
        assert resumed[0][key] == pytest.approx(first_steps[3][key], rel=1e-6, abs=1e-9), key
    assert json.loads((out / "result.json").read_text())["status"] == "succeeded"

    adapter = load_file(out / "final" / "adapter_model.safetensors")
    assert adapter.keys() == first_adapter.keys()
    assert all(torch.allclose(adapter[k], first_adapter[k], rtol=1e-6, atol=1e-9) for k in adapter)
    policy = model_load_causal_lm(out / "final")
    assert generate(policy, tokenizer_load(out / "final"), ["What is 2 plus 3?"], max_new_tokens=4)


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
