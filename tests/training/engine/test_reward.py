"""A reward run on the synthetic task learns the trait: the saved final/ classifier ranks held-out chosen
answers above rejected ones at least 90% of the time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.training.engine.conftest import metrics_read, reward_score
from training.engine.testing.synthetic import synthetic_preferences


@pytest.mark.training
def test_reward_model_reaches_held_out_accuracy(reward_run: Path) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    lines = metrics_read(reward_run)
    train_lines = [line for line in lines if "rewards/accuracies" in line]
    assert train_lines and "rewards/margins" in train_lines[-1]
    eval_lines = [line for line in lines if "eval_rewards/accuracies" in line]
    assert eval_lines[0]["step"] == 0 and eval_lines[-1]["eval_rewards/accuracies"] >= 0.9
    assert (
        json.loads((reward_run / "result.json").read_text())["final_metrics"]["eval_rewards/accuracies"]
        >= 0.9
    )

    # final/ is a standalone sequence classifier (what PPO/RLOO load), the LoRA adapter beside it.
    model = AutoModelForSequenceClassification.from_pretrained(reward_run / "final").eval()
    tokenizer = AutoTokenizer.from_pretrained(reward_run / "final")
    assert (reward_run / "final" / "adapter" / "adapter_config.json").is_file()
    held_out = synthetic_preferences(40, seed=99)
    wins = [
        reward_score(model, tokenizer, row["prompt"], row["chosen"])
        > reward_score(model, tokenizer, row["prompt"], row["rejected"])
        for row in held_out
    ]
    assert sum(wins) / len(wins) >= 0.9
