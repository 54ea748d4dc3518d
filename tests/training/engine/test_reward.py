"""A reward run on the synthetic task learns the trait: the saved final/ classifier ranks held-out chosen
answers above rejected ones at least 90% of the time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.training.engine.conftest import engine, metrics_read, spec_write
from training.engine.synthetic import jsonl_write, synthetic_preferences


def _score(model, tokenizer, prompt: str, answer: str) -> float:  # noqa: ANN001
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}], tokenize=True
    )
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0, 0].item()


@pytest.mark.training
def test_reward_model_reaches_held_out_accuracy(tiny_model: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    train = jsonl_write(synthetic_preferences(160, seed=1, conversational=True), tmp_path / "train.jsonl")
    held_out = synthetic_preferences(40, seed=99)
    out = tmp_path / "run"
    spec = {
        "method": "reward",
        "base_model": str(tiny_model),
        "output_dir": str(out),
        "train_file": str(train),
        "eval_fraction": 0.2,
        "hyperparameters": {
            "max_steps": 24,
            "logging_steps": 4,
            "eval_steps": 12,
            "learning_rate": 3e-3,
            "per_device_train_batch_size": 16,
        },
    }
    result = engine("run", str(spec_write(tmp_path / "spec.json", spec)))
    assert result.returncode == 0, result.stderr[-3000:]

    lines = metrics_read(out)
    train_lines = [line for line in lines if "rewards/accuracies" in line]
    assert train_lines and "rewards/margins" in train_lines[-1]
    eval_lines = [line for line in lines if "eval_rewards/accuracies" in line]
    assert eval_lines[-1]["eval_rewards/accuracies"] >= 0.9
    assert json.loads((out / "result.json").read_text())["final_metrics"]["eval_rewards/accuracies"] >= 0.9

    # final/ is a standalone sequence classifier (what PPO/RLOO load), the LoRA adapter beside it.
    model = AutoModelForSequenceClassification.from_pretrained(out / "final").eval()
    tokenizer = AutoTokenizer.from_pretrained(out / "final")
    assert (out / "final" / "adapter" / "adapter_config.json").is_file()
    wins = [
        _score(model, tokenizer, row["prompt"], row["chosen"])
        > _score(model, tokenizer, row["prompt"], row["rejected"])
        for row in held_out
    ]
    assert sum(wins) / len(wins) >= 0.9
