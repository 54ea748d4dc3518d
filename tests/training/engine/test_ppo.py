"""PPO (trl.experimental.ppo) against a reward run's final/ raises the mean reward-model score of the
policy's samples while the KL to the reference stays bounded."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.training.engine.conftest import engine, metrics_read, sampled_scores, spec_write
from training.engine.jsonl import jsonl_write
from training.engine.testing.synthetic import synthetic_preferences


@pytest.mark.training
def test_ppo_raises_reward_score_with_bounded_kl(sft_policy: Path, reward_run: Path, tmp_path: Path) -> None:
    # Preference rows work as prompt data: the extra columns are ignored.
    train = jsonl_write(synthetic_preferences(128, seed=2, conversational=True), tmp_path / "prompts.jsonl")
    out = tmp_path / "run"
    spec = {
        "method": "ppo",
        "base_model": str(sft_policy),
        "reward_model": str(reward_run / "final"),
        "output_dir": str(out),
        "train_file": str(train),
        "hyperparameters": {
            "max_steps": 16,
            "learning_rate": 2e-3,
            "per_device_train_batch_size": 16,
            "response_length": 8,
            "num_ppo_epochs": 2,
            "logging_steps": 1,
        },
    }
    result = engine("run", str(spec_write(tmp_path / "spec.json", spec)))
    assert result.returncode == 0, result.stderr[-3000:]

    lines = [line for line in metrics_read(out) if "objective/scores" in line]
    assert len(lines) == 16 and {"objective/kl", "objective/entropy", "loss", "learning_rate"} <= set(
        lines[0]
    )
    first = sum(line["objective/scores"] for line in lines[:4]) / 4
    last = sum(line["objective/scores"] for line in lines[-4:]) / 4
    assert last > first + 0.5, (first, last)
    assert all(math.isfinite(line["objective/kl"]) and line["objective/kl"] < 20 for line in lines)
    assert json.loads((out / "result.json").read_text())["status"] == "succeeded"

    before = sampled_scores(sft_policy, reward_run / "final")
    after = sampled_scores(out / "final", reward_run / "final")
    print(f"ppo: mean reward score of sampled completions {before:.3f} -> {after:.3f}")
    assert after > before + 0.3, (before, after)
