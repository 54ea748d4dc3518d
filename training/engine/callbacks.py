"""metrics.jsonl: one JSON object per line, flushed as soon as it is written, in the contract's names."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

# TRL names → contract names (the originals are kept too, so nothing is lost).
_ALIASES = {
    "accuracy": "rewards/accuracies",
    "margin": "rewards/margins",
    "reward": "objective/scores",
    "kl": "objective/kl",
    "entropy": "objective/entropy",
    "lr": "learning_rate",
    "loss/policy_avg": "loss",
}


class MetricsWriter:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        record = {**record, "time": round(time.time(), 3)}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(_clean(record)) + "\n")
            handle.flush()


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def metrics_normalise(logs: dict[str, Any], *, method: str) -> dict[str, Any]:
    """Adds the contract's names next to TRL's (eval metrics keep their eval_ prefix)."""
    out = dict(logs)
    for key, value in logs.items():
        prefix, name = ("eval_", key[5:]) if key.startswith("eval_") else ("", key)
        alias = _ALIASES.get(name)
        if method in ("sft", "dpo") and name == "entropy":
            alias = None  # token entropy of SFT/DPO is not the RL objective's entropy
        if alias and prefix + alias not in out:
            out[prefix + alias] = value
    return out


class MetricsCallback(TrainerCallback):
    """Writes the start line when training begins and one line per log call."""

    def __init__(self, writer: MetricsWriter, *, method: str) -> None:
        self.writer = writer
        self.method = method
        self.last_train: dict[str, Any] = {}
        self.last_eval: dict[str, Any] = {}
        self.last_eval_step: int | None = None

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001 (HF callback signature)
        self.writer.write({"event": "start", "method": self.method, "total_steps": state.max_steps})

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        if not logs:
            return
        metrics = metrics_normalise(logs, method=self.method)
        if any(k.startswith("eval_") for k in metrics):
            self.last_eval.update(metrics)
            self.last_eval_step = state.global_step
        elif "train_runtime" not in metrics:
            self.last_train.update(metrics)
        self.writer.write(
            {"step": state.global_step, "total_steps": state.max_steps, "epoch": state.epoch, **metrics}
        )
