"""RLOO with the reward run's classifier (through reward_funcs) raises the policy's reward-model score."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.training.engine.conftest import engine, metrics_read, sampled_scores, spec_write
from training.engine.jsonl import jsonl_write
from training.engine.testing.synthetic import synthetic_preferences


@pytest.mark.training
def test_rloo_raises_reward_score(sft_policy: Path, reward_run: Path, tmp_path: Path) -> None:
    train = jsonl_write(synthetic_preferences(128, seed=2, conversational=True), tmp_path / "prompts.jsonl")
    out = tmp_path / "run"
    spec = {
        "method": "rloo",
        "base_model": str(sft_policy),
        "reward_model": str(reward_run / "final"),
        "output_dir": str(out),
        "train_file": str(train),
        "hyperparameters": {
            "max_steps": 32,
            "learning_rate": 3e-3,
            "per_device_train_batch_size": 16,
            "num_generations": 4,
            "max_completion_length": 8,
            "logging_steps": 1,
        },
    }
    result = engine("run", str(spec_write(tmp_path / "spec.json", spec)))
    assert result.returncode == 0, result.stderr[-3000:]

    lines = [line for line in metrics_read(out) if "objective/scores" in line]
    assert len(lines) == 32 and {"objective/kl", "objective/entropy", "loss"} <= set(lines[0])
    assert all(math.isfinite(line["objective/kl"]) and line["objective/kl"] < 20 for line in lines)
    before = sampled_scores(sft_policy, reward_run / "final")
    after = sampled_scores(out / "final", reward_run / "final")
    print(f"rloo: mean reward score of sampled completions {before:.3f} -> {after:.3f}")
    assert after > before + 0.3, (before, after)
