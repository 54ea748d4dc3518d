"""The job spec: dataclasses, per-method default hyperparameters, and validation that names the field.

Plain Python only (no torch, no Django) so `validate` and `defaults` answer instantly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

METHODS = ("sft", "reward", "dpo", "ppo", "rloo")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
DPO_LOSS_TYPES = (
    "sigmoid",
    "hinge",
    "ipo",
    "robust",
    "bco_pair",
    "sppo_hard",
    "nca_pair",
    "apo_zero",
    "apo_down",
)
LR_SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup", "cosine_with_min_lr")


class SpecError(ValueError):
    """An invalid spec; `str()` is "<field>: <reason>", the message the CLI prints."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


# Each hyperparameter: (kind, default). Kinds: "pos" number > 0, "nonneg" number >= 0, "int+" int >= 1,
# "int" int >= -1 (-1 = unset), "bool", "prob" 0 <= x < 1, or a tuple of allowed strings.
_COMMON: dict[str, tuple[Any, Any]] = {
    "max_steps": ("int", -1),
    "num_train_epochs": ("pos", 1),
    "per_device_train_batch_size": ("int+", 8),
    "per_device_eval_batch_size": ("int+", 8),
    "gradient_accumulation_steps": ("int+", 1),
    "max_length": ("int+", 1024),
    "logging_steps": ("int+", 10),
    "save_steps": ("int+", 200),
    "eval_steps": ("int+", 100),
    "save_total_limit": ("int+", 2),
    "warmup_ratio": ("prob", 0.0),
    "weight_decay": ("nonneg", 0.0),
    "lr_scheduler_type": (LR_SCHEDULERS, "linear"),
    "max_grad_norm": ("pos", 1.0),
    "gradient_checkpointing": ("bool", False),
}

# Learning rates assume LoRA; with full fine-tuning they are divided by 10 (see _default_lr).
_METHOD: dict[str, dict[str, tuple[Any, Any]]] = {
    "sft": {
        "learning_rate": ("pos", 2e-4),
        "packing": ("bool", False),
        "completion_only_loss": ("bool", True),
    },
    "reward": {
        "learning_rate": ("pos", 2e-4),
        "center_rewards_coefficient": ("nonneg", 0.0),
    },
    "dpo": {
        # DESIGN.md: with LoRA on small models 5e-3 collapsed generations while margins looked good.
        "learning_rate": ("pos", 5e-5),
        "beta": ("pos", 0.1),
        "loss_type": (DPO_LOSS_TYPES, "sigmoid"),
        "label_smoothing": ("prob", 0.0),
        # > 0 adds TRL's "sft" loss (NLL of the chosen answer) with this weight (RPO), which keeps the
        # likelihood of chosen answers from falling while the margin grows.
        "sft_weight": ("nonneg", 0.0),
    },
    "ppo": {
        "learning_rate": ("pos", 1e-5),
        "kl_coef": ("nonneg", 0.05),
        "response_length": ("int+", 64),
        "num_ppo_epochs": ("int+", 4),
        "num_mini_batches": ("int+", 1),
        "temperature": ("pos", 0.7),
        "cliprange": ("pos", 0.2),
        "vf_coef": ("pos", 0.1),
        "gamma": ("pos", 1.0),
        "lam": ("pos", 0.95),
        "missing_eos_penalty": ("nonneg", 0.0),
        "whiten_rewards": ("bool", False),
    },
    "rloo": {
        "learning_rate": ("pos", 1e-5),
        "beta": ("nonneg", 0.05),
        "num_generations": ("int+", 4),
        "max_completion_length": ("int+", 64),
        "temperature": ("pos", 0.7),
        "num_iterations": ("int+", 1),
    },
}
_METHOD_OVERRIDES: dict[str, dict[str, Any]] = {
    "ppo": {"per_device_train_batch_size": 4, "max_length": 512},
    "rloo": {"per_device_train_batch_size": 4, "max_length": 512},
}


def _default_lr(method: str, lora_enabled: bool) -> float:
    lr = _METHOD[method]["learning_rate"][1]
    return lr if lora_enabled else lr / 10


def method_defaults(method: str, *, lora_enabled: bool = True) -> dict[str, Any]:
    """Returns the default hyperparameters of `method` (a fresh dict)."""
    if method not in METHODS:
        raise SpecError("method", f"must be one of {', '.join(METHODS)}")
    defaults = {name: default for name, (_, default) in {**_COMMON, **_METHOD[method]}.items()}
    defaults.update(_METHOD_OVERRIDES.get(method, {}))
    defaults["learning_rate"] = _default_lr(method, lora_enabled)
    return dict(sorted(defaults.items()))


@dataclass
class LoraSpec:
    enabled: bool = True
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"


@dataclass
class JobSpec:
    method: str
    base_model: str
    output_dir: str
    train_file: str
    eval_file: str | None = None
    eval_fraction: float = 0.1
    reward_model: str | None = None
    lora: LoraSpec = field(default_factory=LoraSpec)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    precision: str = "auto"
    device: str = "auto"
    snapshot: dict[str, Any] | None = None
    sample_prompts: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def hp(self) -> dict[str, Any]:
        return self.hyperparameters


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_value(name: str, kind: Any, value: Any) -> Any:
    if isinstance(kind, tuple):
        if value not in kind:
            raise SpecError(name, f"must be one of {', '.join(kind)}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise SpecError(name, "must be true or false")
        return value
    if kind in ("int+", "int"):
        if not _is_int(value) and not (_is_number(value) and float(value).is_integer()):
            raise SpecError(name, "must be an integer")
        value = int(value)
        if kind == "int+" and value < 1:
            raise SpecError(name, "must be an integer >= 1")
        if kind == "int" and value < -1:
            raise SpecError(name, "must be an integer >= -1 (-1: not set)")
        return value
    if not _is_number(value):
        raise SpecError(name, f"must be a number{' > 0' if kind == 'pos' else ''}")
    if kind == "pos" and not value > 0:
        raise SpecError(name, "must be a number > 0")
    if kind == "nonneg" and value < 0:
        raise SpecError(name, "must be a number >= 0")
    if kind == "prob" and not 0 <= value < 1:
        raise SpecError(name, "must be a number in [0, 1)")
    return value


def _require_str(data: dict[str, Any], name: str, *, optional: bool = False) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if optional:
            return None
        raise SpecError(name, "is required")
    if not isinstance(value, str):
        raise SpecError(name, "must be a string")
    return value


def _lora_from(data: Any) -> LoraSpec:
    if data is None:
        return LoraSpec()
    if not isinstance(data, dict):
        raise SpecError("lora", "must be an object")
    unknown = sorted(set(data) - {"enabled", "r", "alpha", "dropout", "target_modules"})
    if unknown:
        raise SpecError(f"lora.{unknown[0]}", "unknown field")
    lora = LoraSpec()
    if "enabled" in data:
        lora.enabled = _check_value("lora.enabled", "bool", data["enabled"])
    if "r" in data:
        lora.r = _check_value("lora.r", "int+", data["r"])
    if "alpha" in data:
        lora.alpha = _check_value("lora.alpha", "int+", data["alpha"])
    if "dropout" in data:
        lora.dropout = _check_value("lora.dropout", "prob", data["dropout"])
    if "target_modules" in data:
        modules = data["target_modules"]
        ok = (
            isinstance(modules, str)
            and modules
            or (isinstance(modules, list) and modules and all(isinstance(m, str) and m for m in modules))
        )
        if not ok:
            raise SpecError("lora.target_modules", 'must be "all-linear" or a non-empty list of module names')
        lora.target_modules = modules
    return lora


def spec_from_dict(data: Any) -> JobSpec:
    """Validates `data` and returns the normalised spec with every default filled in.

    Raises SpecError naming the first offending field.
    """
    if not isinstance(data, dict):
        raise SpecError("spec", "must be a JSON object")
    known = set(JobSpec.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise SpecError(unknown[0], "unknown field")
    method = data.get("method")
    if method not in METHODS:
        raise SpecError("method", f"must be one of {', '.join(METHODS)}")
    spec = JobSpec(
        method=method,
        base_model=_require_str(data, "base_model"),
        output_dir=_require_str(data, "output_dir"),
        train_file=_require_str(data, "train_file"),
        eval_file=_require_str(data, "eval_file", optional=True),
        reward_model=_require_str(data, "reward_model", optional=True),
        lora=_lora_from(data.get("lora")),
    )
    if "eval_fraction" in data and data["eval_fraction"] is not None:
        spec.eval_fraction = _check_value("eval_fraction", "prob", data["eval_fraction"])
    if method in ("ppo", "rloo") and spec.reward_model is None:
        raise SpecError("reward_model", f"is required for {method} (a reward run's final/ directory)")
    if "seed" in data and data["seed"] is not None:
        if not _is_int(data["seed"]) or data["seed"] < 0:
            raise SpecError("seed", "must be an integer >= 0")
        spec.seed = data["seed"]
    for name, allowed in (("precision", PRECISIONS), ("device", DEVICES)):
        if data.get(name) is not None:
            setattr(spec, name, _check_value(name, allowed, data[name]))
    if spec.device == "cpu" and spec.precision == "fp16":
        raise SpecError("precision", "fp16 needs a CUDA device")
    snapshot = data.get("snapshot")
    if snapshot is not None and not isinstance(snapshot, dict):
        raise SpecError("snapshot", "must be an object like {id, sha256} or null")
    spec.snapshot = snapshot
    prompts = data.get("sample_prompts") or []
    if not isinstance(prompts, list) or not all(isinstance(p, str | list) and p for p in prompts):
        raise SpecError("sample_prompts", "must be a list of prompts (strings or message lists)")
    spec.sample_prompts = prompts

    hyper = data.get("hyperparameters") or {}
    if not isinstance(hyper, dict):
        raise SpecError("hyperparameters", "must be an object")
    kinds = {**_COMMON, **_METHOD[method]}
    values = method_defaults(method, lora_enabled=spec.lora.enabled)
    for name, value in hyper.items():
        if name not in kinds:
            raise SpecError(f"hyperparameters.{name}", f"unknown hyperparameter for {method}")
        if value is None:
            continue
        values[name] = _check_value(f"hyperparameters.{name}", kinds[name][0], value)
    spec.hyperparameters = values
    return spec


def spec_load(path: str | Path) -> JobSpec:
    """Reads and validates a spec file; SpecError("spec", ...) when it is not readable JSON."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError("spec", f"cannot read {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise SpecError("spec", f"not valid JSON: {exc}") from exc
    return spec_from_dict(data)
