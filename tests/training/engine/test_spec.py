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
