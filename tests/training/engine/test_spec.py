"""The spec CLI: validate fills defaults, defaults prints them, errors name the field (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.training.engine.conftest import engine, spec_write
from training.engine.spec import SpecError, method_defaults, spec_from_dict

BASE = {"base_model": "m", "output_dir": "o", "train_file": "t.jsonl"}


def test_validate_fills_method_defaults(tmp_path: Path) -> None:
    path = spec_write(tmp_path / "s.json", {**BASE, "method": "dpo", "hyperparameters": {"beta": 0.2}})
    result = engine("validate", str(path))
    assert result.returncode == 0, result.stderr
    spec = json.loads(result.stdout)
    assert spec["hyperparameters"]["beta"] == 0.2
    assert spec["hyperparameters"]["loss_type"] == "sigmoid"
    assert spec["lora"] == {
        "enabled": True,
        "r": 16,
        "alpha": 32,
        "dropout": 0.05,
        "target_modules": "all-linear",
    }
    assert spec["precision"] == "auto" and spec["eval_fraction"] == 0.1 and spec["seed"] == 0


def test_invalid_spec_exits_2_naming_the_field(tmp_path: Path) -> None:
    path = spec_write(tmp_path / "s.json", {**BASE, "method": "dpo", "hyperparameters": {"beta": 0}})
    result = engine("validate", str(path))
    assert result.returncode == 2
    assert "hyperparameters.beta: must be a number > 0" in result.stderr
    path = spec_write(tmp_path / "r.json", {**BASE, "method": "ppo", "hyperparameters": {"beta": 0}})
    assert engine("run", str(path)).returncode == 2


def test_defaults_command_prints_json() -> None:
    result = engine("defaults", "ppo")
    assert result.returncode == 0
    defaults = json.loads(result.stdout)
    assert {"kl_coef", "response_length", "num_ppo_epochs", "learning_rate"} <= set(defaults)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"method": "grpo"}, "method"),
        ({"base_model": ""}, "base_model"),
        ({"lora": {"r": 0}}, "lora.r"),
        ({"precision": "fp8"}, "precision"),
        ({"hyperparameters": {"learning_rate": "fast"}}, "hyperparameters.learning_rate"),
        ({"hyperparameters": {"kl_coef": 0.1}}, "hyperparameters.kl_coef"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_spec_errors_name_the_field(change: dict, field: str) -> None:
    with pytest.raises(SpecError) as error:
        spec_from_dict({**BASE, "method": "sft", **change})
    assert error.value.field == field


def test_full_fine_tuning_lowers_the_default_learning_rate() -> None:
    lora = method_defaults("sft")["learning_rate"]
    full = spec_from_dict({**BASE, "method": "sft", "lora": {"enabled": False}}).hp["learning_rate"]
    assert full == pytest.approx(lora / 10)


def test_numbers_keep_their_json_type_and_whole_floats_count_as_integers() -> None:
    hyper = {"beta": 1, "max_steps": 30.0, "num_train_epochs": 2.0, "learning_rate": 1e-3}
    spec = spec_from_dict({**BASE, "method": "dpo", "hyperparameters": hyper})
    assert spec.hp["beta"] == 1 and isinstance(spec.hp["beta"], int)
    assert spec.hp["max_steps"] == 30 and isinstance(spec.hp["max_steps"], int)
    assert spec.hp["num_train_epochs"] == 2.0 and isinstance(spec.hp["num_train_epochs"], float)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hyperparameters": {"max_steps": 2.5}}, "hyperparameters.max_steps: must be an integer"),
        ({"hyperparameters": {"max_steps": -2}}, "hyperparameters.max_steps: must be an integer >= -1"),
        ({"hyperparameters": {"packing": 1}}, "hyperparameters.packing: must be true or false"),
        ({"hyperparameters": {"warmup_ratio": 1}}, "hyperparameters.warmup_ratio: must be a number in [0,"),
        ({"hyperparameters": {"weight_decay": True}}, "hyperparameters.weight_decay: must be a number"),
        ({"lora": {"target_modules": []}}, 'lora.target_modules: must be "all-linear" or a non-empty list'),
        ({"lora": "on"}, "lora: must be an object"),
        ({"seed": 1.0}, "seed: must be an integer >= 0"),
        ({"snapshot": [1]}, "snapshot: must be an object like {id, sha256} or null"),
        ({"sample_prompts": [""]}, "sample_prompts: must be a list of prompts"),
        ({"device": "cpu", "precision": "fp16"}, "precision: fp16 needs a CUDA device"),
        ({"method": "rloo"}, "reward_model: is required for rloo"),
    ],
)
def test_bad_values_get_the_reason_of_their_field(change: dict, message: str) -> None:
    with pytest.raises(SpecError) as error:
        spec_from_dict({**BASE, "method": "sft", **change})
    assert str(error.value).startswith(message)


def test_null_stands_for_the_default_but_an_unknown_name_is_refused_even_null() -> None:
    spec = spec_from_dict(
        {**BASE, "method": "sft", "seed": None, "eval_file": "", "hyperparameters": {"max_steps": None}}
    )
    assert (spec.seed, spec.eval_file, spec.hp["max_steps"]) == (0, None, -1)
    with pytest.raises(SpecError, match="^surprise: unknown field$"):
        spec_from_dict({**BASE, "method": "sft", "surprise": None})
    with pytest.raises(SpecError, match="^hyperparameters.beta: unknown hyperparameter for sft$"):
        spec_from_dict({**BASE, "method": "sft", "hyperparameters": {"beta": None}})


def test_the_first_bad_hyperparameter_is_the_first_given() -> None:
    with pytest.raises(SpecError, match="^hyperparameters.beta: "):
        spec_from_dict({**BASE, "method": "dpo", "hyperparameters": {"beta": 0, "bogus": 1}})
    with pytest.raises(SpecError, match="^hyperparameters.bogus: unknown hyperparameter for dpo$"):
        spec_from_dict({**BASE, "method": "dpo", "hyperparameters": {"bogus": 1, "beta": 0}})


def test_a_normalised_spec_validates_to_itself() -> None:
    spec = spec_from_dict({**BASE, "method": "ppo", "reward_model": "rm", "lora": {"enabled": False}})
    assert spec_from_dict(spec.to_dict()) == spec, "the full fine-tuning learning rate is divided once"
    assert (spec.hp["per_device_train_batch_size"], spec.hp["max_length"]) == (4, 512)
