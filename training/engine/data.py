"""Loads training data (JSONL or Parquet) for a method and holds out a seeded eval split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.engine.spec import JobSpec


class DatasetError(ValueError):
    """The data cannot be used for the run (missing file, wrong columns, too few rows)."""


_REQUIRED: dict[str, list[tuple[str, ...]]] = {
    # Each method accepts any one of these column sets.
    "sft": [("messages",), ("prompt", "completion"), ("text",)],
    "reward": [("chosen", "rejected")],
    "dpo": [("chosen", "rejected")],
    "ppo": [("prompt",)],
    "rloo": [("prompt",)],
}


@dataclass
class Splits:
    train: Any  # datasets.Dataset
    eval: Any | None


def _load(path: str) -> Any:
    from datasets import load_dataset

    file = Path(path)
    if not file.is_file():
        raise DatasetError(f"{path}: no such file")
    if file.suffix == ".parquet":
        kind = "parquet"
    elif file.suffix in (".jsonl", ".json"):
        kind = "json"
    else:
        raise DatasetError(f"{path}: expected a .jsonl, .json or .parquet file")
    try:
        return load_dataset(kind, data_files=str(file), split="train")
    except Exception as exc:  # datasets raises many types for malformed files
        raise DatasetError(f"{path}: cannot be read as {kind}: {exc}") from exc


def _check(dataset: Any, method: str, path: str) -> Any:
    columns = set(dataset.column_names)
    options = _REQUIRED[method]
    if not any(set(option) <= columns for option in options):
        wanted = " or ".join("{" + ", ".join(f'"{c}"' for c in option) + "}" for option in options)
        raise DatasetError(f"{path}: {method} needs rows with {wanted}; found columns {sorted(columns)}")
    if len(dataset) == 0:
        raise DatasetError(f"{path}: no rows")
    # Exports carry bookkeeping columns (comparison_id, metadata); trainers only get the ones they use.
    keep = {c for option in options for c in option} | ({"prompt"} if method in ("reward", "dpo") else set())
    return dataset.remove_columns([c for c in dataset.column_names if c not in keep])


def data_load(spec: JobSpec) -> Splits:
    """Returns the train and eval datasets; eval is None when eval_fraction is 0 and there is no eval_file."""
    train = _check(_load(spec.train_file), spec.method, spec.train_file)
    if spec.eval_file:
        return Splits(train=train, eval=_check(_load(spec.eval_file), spec.method, spec.eval_file))
    if spec.eval_fraction <= 0 or len(train) < 4:
        return Splits(train=train, eval=None)
    split = train.train_test_split(test_size=spec.eval_fraction, seed=spec.seed, shuffle=True)
    return Splits(train=split["train"], eval=split["test"])


def prompt_text(prompt: Any) -> str:
    """A printable form of a prompt (string, or the last user message of a conversation)."""
    if isinstance(prompt, str):
        return prompt
    return next((m["content"] for m in reversed(prompt) if m.get("role") == "user"), str(prompt))
