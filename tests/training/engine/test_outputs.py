"""metrics.jsonl lines in the contract's names, and the model card's contents."""

from __future__ import annotations

import json
import math
from pathlib import Path

from training.engine.callbacks import MetricsWriter, metrics_normalise
from training.engine.card import card_render
from training.engine.spec import spec_from_dict


def test_trl_names_get_the_contract_aliases() -> None:
    reward = metrics_normalise({"accuracy": 0.9, "eval_margin": 1.5}, method="reward")
    assert reward["rewards/accuracies"] == 0.9 and reward["eval_rewards/margins"] == 1.5
    rloo = metrics_normalise({"reward": 0.3, "kl": 0.01, "entropy": 2.0}, method="rloo")
    assert (rloo["objective/scores"], rloo["objective/kl"], rloo["objective/entropy"]) == (0.3, 0.01, 2.0)
    ppo = metrics_normalise({"loss/policy_avg": -0.1, "lr": 1e-5, "objective/scores": 1.0}, method="ppo")
    assert ppo["loss"] == -0.1 and ppo["learning_rate"] == 1e-5
    # DPO's token entropy is not the RL objective's entropy; names already in contract form stay as they are.
    dpo = metrics_normalise({"entropy": 5.0, "rewards/accuracies": 1.0}, method="dpo")
    assert "objective/entropy" not in dpo and dpo["rewards/accuracies"] == 1.0


def test_metrics_lines_have_time_and_no_nan(tmp_path: Path) -> None:
    writer = MetricsWriter(tmp_path / "metrics.jsonl")
    writer.write({"step": 1, "loss": math.nan})
    line = json.loads((tmp_path / "metrics.jsonl").read_text())
    assert line["loss"] is None and line["time"] > 0


def test_card_names_model_data_hyperparameters_and_metrics() -> None:
    spec = spec_from_dict(
        {
            "method": "dpo",
            "base_model": "org/model",
            "output_dir": "o",
            "train_file": "t.jsonl",
            "snapshot": {"id": 12, "sha256": "f00d"},
        }
    )
    result = {
        "status": "succeeded",
        "final_metrics": {"eval_rewards/accuracies": 0.95},
        "samples": [{"prompt": "Hi?", "before": "x", "after": "Sure! hi"}],
        "seconds": 3.5,
        "peak_memory_mb": 400,
    }
    card = card_render(spec, result)
    for text in ("org/model", "dpo", "12", "f00d", "| beta | 0.1 |", "eval_rewards/accuracies", "Sure! hi"):
        assert text in card
    assert "Code revision" in card
