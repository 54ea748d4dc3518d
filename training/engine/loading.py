"""Loading models and tokenizers from an HF id, a local model, or a previous run's final/ (a LoRA adapter
is merged into its base). Every command and method backend loads through here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def model_load_causal_lm(path: str | Path, *, dtype: Any = None) -> Any:
    """Loads a causal LM; a LoRA adapter directory (a previous run's final/) is merged into its base."""
    from transformers import AutoModelForCausalLM

    if (Path(path) / "adapter_config.json").is_file():
        from peft import AutoPeftModelForCausalLM

        return AutoPeftModelForCausalLM.from_pretrained(str(path), dtype=dtype).merge_and_unload()
    return AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype)


def tokenizer_load(path: str | Path) -> Any:
    """The tokenizer at `path`, with the EOS token as padding when it has no pad token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def tokenizer_path(model: str) -> str:
    """Where the tokenizer of `model` is: a LoRA adapter directory without tokenizer files takes its base
    model's."""
    path = Path(model)
    config = path / "adapter_config.json"
    has_tokenizer = (path / "tokenizer_config.json").is_file() or (path / "tokenizer.json").is_file()
    if config.is_file() and not has_tokenizer:
        return json.loads(config.read_text())["base_model_name_or_path"]
    return model


def classifier_load(path: str | Path, *, pad_token_id: int | None, dtype: Any = None) -> Any:
    """A sequence classifier with one output (a reward model; a causal LM's weights get a fresh score head)
    that reads the last token before `pad_token_id`."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=1, dtype=dtype)
    model.config.pad_token_id = pad_token_id
    return model


def reward_model_load(path: str | Path, *, dtype: Any = None) -> tuple[Any, Any]:
    """A reward run's final/ (a merged sequence classifier) and its tokenizer."""
    tokenizer = tokenizer_load(path)
    return classifier_load(path, pad_token_id=tokenizer.pad_token_id, dtype=dtype), tokenizer
