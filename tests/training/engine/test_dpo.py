"""DPO on the synthetic preferences raises eval reward accuracy and margins, and the policy then opens its
sampled answers with the preferred trait more often than the starting policy did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.training.engine.conftest import engine, metrics_read, spec_write, trait_rate
from training.engine.jsonl import jsonl_write
from training.engine.testing.synthetic import synthetic_preferences


@pytest.mark.training
def test_dpo_raises_margins_and_the_preferred_trait(sft_policy: Path, tmp_path: Path) -> None:
    train = jsonl_write(synthetic_preferences(160, seed=1, conversational=True), tmp_path / "prefs.jsonl")
    out = tmp_path / "run"
    spec = {
        "method": "dpo",
        "base_model": str(sft_policy),
        "output_dir": str(out),
        "train_file": str(train),
        "eval_fraction": 0.2,
        # Plain sigmoid DPO here lowers the rejected openers without raising the chosen one (the freed mass
        # goes to punctuation); the RPO term (sft_weight) keeps the chosen answers likely.
        "hyperparameters": {
            "max_steps": 40,
            "learning_rate": 2e-3,
            "sft_weight": 1.0,
            "per_device_train_batch_size": 16,
            "logging_steps": 5,
            "eval_steps": 40,
        },
        "sample_prompts": ["What is 2 plus 3?"],
    }
    result = engine("run", str(spec_write(tmp_path / "spec.json", spec)))
    assert result.returncode == 0, result.stderr[-3000:]

    evals = [line for line in metrics_read(out) if "eval_rewards/accuracies" in line]
    first, last = evals[0], evals[-1]
    assert first["step"] == 0
    assert last["eval_rewards/accuracies"] > first["eval_rewards/accuracies"]
    assert last["eval_rewards/accuracies"] >= 0.9
    assert last["eval_rewards/margins"] > first["eval_rewards/margins"] + 0.05
    assert json.loads((out / "result.json").read_text())["samples"][0]["after"]

    before, after = trait_rate(sft_policy), trait_rate(out / "final")
    print(f"dpo: trait rate of sampled completions {before:.3f} -> {after:.3f}")
    assert after > before + 0.1, (before, after)
