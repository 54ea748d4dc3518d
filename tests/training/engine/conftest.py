"""Engine fixtures: the tiny model built once per session, and a helper that runs the CLI as the Django
side does (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from training.engine.testing.tiny import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def engine(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Runs `python -m training.engine ARGS` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "training.engine", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def spec_write(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(json.dumps(spec))
    return path


def metrics_read(output_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (output_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="session")
def sft_policy(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model fine-tuned on demonstrations where ~30% of answers open with the trait: a starting
    policy that produces the trait sometimes, so preference training has something to improve."""
    from training.engine.jsonl import jsonl_write
    from training.engine.testing.synthetic import synthetic_demonstrations

    root = tmp_path_factory.mktemp("sft-policy")
    train = jsonl_write(synthetic_demonstrations(200, seed=3, trait_fraction=0.3), root / "demos.jsonl")
    spec = {
        "method": "sft",
        "base_model": str(tiny_model),
        "output_dir": str(root / "run"),
        "train_file": str(train),
        "eval_fraction": 0,
        "lora": {"enabled": False},
        "hyperparameters": {
            "max_steps": 120,
            "learning_rate": 3e-3,
            "per_device_train_batch_size": 16,
            "logging_steps": 20,
            "save_steps": 1000,
        },
    }
    result = engine("run", str(spec_write(root / "spec.json", spec)))
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "run" / "final"


def trait_rate(model_dir: Path, *, prompts: int = 20, samples: int = 4) -> float:
    """The share of sampled completions (temperature 1) that open with the synthetic trait."""
    from training.engine.generation import generate
    from training.engine.loading import model_load_causal_lm, tokenizer_load
    from training.engine.testing.synthetic import has_trait, synthetic_prompts

    model = model_load_causal_lm(model_dir)
    texts = generate(
        model,
        tokenizer_load(model_dir),
        synthetic_prompts(prompts, seed=5),
        max_new_tokens=4,
        do_sample=True,
        num_return_sequences=samples,
    )
    return sum(map(has_trait, texts)) / len(texts)


@pytest.fixture(scope="session")
def reward_run(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reward run on the synthetic preferences (its output dir); PPO and RLOO score with its final/."""
    from training.engine.jsonl import jsonl_write
    from training.engine.testing.synthetic import synthetic_preferences

    root = tmp_path_factory.mktemp("reward")
    train = jsonl_write(synthetic_preferences(160, seed=1, conversational=True), root / "train.jsonl")
    spec = {
        "method": "reward",
        "base_model": str(tiny_model),
        "output_dir": str(root / "run"),
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
    result = engine("run", str(spec_write(root / "spec.json", spec)))
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "run"


def reward_score(model, tokenizer, prompt: str, answer: str) -> float:  # noqa: ANN001
    """The reward model's score of one answer, formatted with the chat template as in training."""
    import torch

    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}], tokenize=True
    )
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0, 0].item()


def sampled_scores(policy_dir: Path, reward_dir: Path, *, prompts: int = 40, samples: int = 8) -> float:
    """The mean reward-model score of completions sampled (temperature 1) from a policy."""
    from transformers import AutoModelForSequenceClassification

    from training.engine.generation import generate
    from training.engine.loading import model_load_causal_lm, tokenizer_load
    from training.engine.testing.synthetic import synthetic_prompts

    tokenizer = tokenizer_load(policy_dir)
    questions = synthetic_prompts(prompts, seed=5)
    texts = generate(
        model_load_causal_lm(policy_dir),
        tokenizer,
        questions,
        max_new_tokens=8,
        do_sample=True,
        num_return_sequences=samples,
    )
    reward = AutoModelForSequenceClassification.from_pretrained(reward_dir).eval()
    scores = [reward_score(reward, tokenizer, questions[i // samples], text) for i, text in enumerate(texts)]
    return sum(scores) / len(scores)
