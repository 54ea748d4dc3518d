"""The job spec: pydantic models of a job, its LoRA settings and each method's hyperparameters with their
defaults. An invalid spec raises SpecError naming the field ("hyperparameters.beta: must be a number > 0"),
which `python -m training.engine validate` prints and the Django side reads back.

Plain Python and pydantic only (no torch, no Django) so `validate` and `defaults` answer at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from annotated_types import Ge, Gt, Lt, MinLen
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from training.engine.schema import Integer, Number, errors_read, reason_error, says

Method = Literal["sft", "reward", "dpo", "ppo", "rloo"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
Device = Literal["auto", "cpu", "cuda"]
DpoLossType = Literal[
    "sigmoid",
    "hinge",
    "ipo",
    "robust",
    "bco_pair",
    "sppo_hard",
    "nca_pair",
    "apo_zero",
    "apo_down",
]
LrScheduler = Literal["linear", "cosine", "constant", "constant_with_warmup", "cosine_with_min_lr"]
METHODS: tuple[str, ...] = get_args(Method)
PRECISIONS: tuple[str, ...] = get_args(Precision)
DEVICES: tuple[str, ...] = get_args(Device)
DPO_LOSS_TYPES: tuple[str, ...] = get_args(DpoLossType)
LR_SCHEDULERS: tuple[str, ...] = get_args(LrScheduler)


class SpecError(ValueError):
    """An invalid spec; `str()` is "<field>: <reason>", the message the CLI prints."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


def _one_of(values: tuple[str, ...]) -> Any:
    return says(f"must be one of {', '.join(values)}")


# The field types of a spec, each with the reason a bad value gets.
Flag = Annotated[StrictBool, says("must be true or false")]
Count = Annotated[Integer, Ge(1), says("must be an integer", "must be an integer >= 1")]
Steps = Annotated[Integer, Ge(-1), says("must be an integer", "must be an integer >= -1 (-1: not set)")]
Positive = Annotated[Number, Gt(0), says("must be a number > 0")]
NonNegative = Annotated[Number, Ge(0), says("must be a number", "must be a number >= 0")]
Fraction = Annotated[Number, Ge(0), Lt(1), says("must be a number", "must be a number in [0, 1)")]
Text = Annotated[StrictStr, MinLen(1), says("must be a string", "is required")]
OptionalText = Annotated[StrictStr | None, says("must be a string")]
ModuleNames = Annotated[
    Annotated[StrictStr, MinLen(1)] | Annotated[list[Annotated[StrictStr, MinLen(1)]], MinLen(1)],
    says('must be "all-linear" or a non-empty list of module names'),
]
Prompt = Annotated[StrictStr, MinLen(1)] | Annotated[list[Any], MinLen(1)]


class Hyperparameters(BaseModel):
    """What every method takes. Learning rates default for LoRA and are divided by 10 when LoRA is off."""

    model_config = ConfigDict(extra="forbid")

    learning_rate: Positive  # each method's own default
    max_steps: Steps = -1
    num_train_epochs: Positive = 1
    per_device_train_batch_size: Count = 8
    per_device_eval_batch_size: Count = 8
    gradient_accumulation_steps: Count = 1
    max_length: Count = 1024
    logging_steps: Count = 10
    save_steps: Count = 200
    eval_steps: Count = 100
    save_total_limit: Count = 2
    warmup_ratio: Fraction = 0.0
    weight_decay: NonNegative = 0.0
    lr_scheduler_type: Annotated[LrScheduler, _one_of(LR_SCHEDULERS)] = "linear"
    max_grad_norm: Positive = 1.0
    gradient_checkpointing: Flag = False


class SftHyperparameters(Hyperparameters):
    learning_rate: Positive = 2e-4
    packing: Flag = False
    completion_only_loss: Flag = True


class RewardHyperparameters(Hyperparameters):
    learning_rate: Positive = 2e-4
    center_rewards_coefficient: NonNegative = 0.0


class DpoHyperparameters(Hyperparameters):
    # DESIGN.md: with LoRA on small models 5e-3 collapsed generations while margins looked good.
    learning_rate: Positive = 5e-5
    beta: Positive = 0.1
    loss_type: Annotated[DpoLossType, _one_of(DPO_LOSS_TYPES)] = "sigmoid"
    label_smoothing: Fraction = 0.0
    # > 0 adds TRL's "sft" loss (NLL of the chosen answer) with this weight (RPO), which keeps the
    # likelihood of chosen answers from falling while the margin grows.
    sft_weight: NonNegative = 0.0


class OnlineHyperparameters(Hyperparameters):
    """PPO and RLOO generate while they train: smaller batches, prompts of at most 512 tokens (max_length),
    a lower learning rate and a sampling temperature."""

    per_device_train_batch_size: Count = 4
    max_length: Count = 512
    learning_rate: Positive = 1e-5
    temperature: Positive = 0.7


class PpoHyperparameters(OnlineHyperparameters):
    kl_coef: NonNegative = 0.05
    response_length: Count = 64
    num_ppo_epochs: Count = 4
    num_mini_batches: Count = 1
    cliprange: Positive = 0.2
    vf_coef: Positive = 0.1
    gamma: Positive = 1.0
    lam: Positive = 0.95
    missing_eos_penalty: NonNegative = 0.0
    whiten_rewards: Flag = False


class RlooHyperparameters(OnlineHyperparameters):
    beta: NonNegative = 0.05
    num_generations: Count = 4
    max_completion_length: Count = 64
    num_iterations: Count = 1


HYPERPARAMETERS: dict[str, type[Hyperparameters]] = {
    "sft": SftHyperparameters,
    "reward": RewardHyperparameters,
    "dpo": DpoHyperparameters,
    "ppo": PpoHyperparameters,
    "rloo": RlooHyperparameters,
}


def hyperparameters_normalise(method: str, given: dict[str, Any], *, lora_enabled: bool) -> dict[str, Any]:
    """Every hyperparameter of `method` by name, `given` over the defaults (a null stands for the default).
    Raises SpecError naming the first bad one ("hyperparameters.<name>")."""
    model = HYPERPARAMETERS[method]
    try:
        # An unknown name is refused even with a null.
        values = model.model_validate(
            {k: v for k, v in given.items() if v is not None or k not in model.model_fields}
        )
    except ValidationError as exc:
        order = list(given)  # the first bad one as given
        errors = errors_read(exc, unknown=f"unknown hyperparameter for {method}")
        first = min(errors, key=lambda error: order.index(error.path))
        raise SpecError(f"hyperparameters.{first.path}", first.reason) from None
    normalised = values.model_dump()
    if not lora_enabled and "learning_rate" not in values.model_fields_set:
        normalised["learning_rate"] /= 10
    return dict(sorted(normalised.items()))


def method_defaults(method: str, *, lora_enabled: bool = True) -> dict[str, Any]:
    """Returns the default hyperparameters of `method` (a fresh dict)."""
    if method not in METHODS:
        raise SpecError("method", f"must be one of {', '.join(METHODS)}")
    return hyperparameters_normalise(method, {}, lora_enabled=lora_enabled)


class LoraSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: Flag = True
    r: Count = 16
    alpha: Count = 32
    dropout: Fraction = 0.05
    target_modules: ModuleNames = "all-linear"


def _unset(name: str, value: Any) -> bool:
    """Whether a top-level value stands for "not given": null anywhere, "" for an optional path, an empty
    (or otherwise false) sample_prompts or hyperparameters."""
    if value is None:
        return True
    if name in ("eval_file", "reward_model"):
        return value == ""
    return name in ("sample_prompts", "hyperparameters") and not value


class JobSpec(BaseModel):
    """A validated job with every default filled in; `hyperparameters` holds all of the method's, by name."""

    model_config = ConfigDict(extra="forbid")

    # Absent or null, a method gets the reason an unknown one gets.
    method: Annotated[Method, _one_of(METHODS)] = Field(default=None, validate_default=True)
    base_model: Text
    output_dir: Text
    train_file: Text
    eval_file: OptionalText = None
    eval_fraction: Fraction = 0.1
    reward_model: OptionalText = None
    lora: LoraSpec = Field(default_factory=LoraSpec)
    hyperparameters: Annotated[dict[str, Any], says("must be an object")] = Field(default_factory=dict)
    seed: Annotated[StrictInt, Ge(0), says("must be an integer >= 0")] = 0
    precision: Annotated[Precision, _one_of(PRECISIONS)] = "auto"
    device: Annotated[Device, _one_of(DEVICES)] = "auto"
    snapshot: Annotated[dict[str, Any] | None, says("must be an object like {id, sha256} or null")] = None
    sample_prompts: Annotated[list[Prompt], says("must be a list of prompts (strings or message lists)")] = (
        Field(default_factory=list)
    )

    @model_validator(mode="before")
    @classmethod
    def _unset_values_dropped(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # An unknown name is refused even with a null.
        return {
            name: value
            for name, value in data.items()
            if name not in cls.model_fields or not _unset(name, value)
        }

    @model_validator(mode="after")
    def _method_rules(self) -> JobSpec:
        """The rules across fields, then the method's hyperparameters."""
        if self.method in ("ppo", "rloo") and self.reward_model is None:
            raise reason_error(
                f"is required for {self.method} (a reward run's final/ directory)", field="reward_model"
            )
        if self.device == "cpu" and self.precision == "fp16":
            raise reason_error("fp16 needs a CUDA device", field="precision")
        try:
            self.hyperparameters = hyperparameters_normalise(
                self.method, self.hyperparameters, lora_enabled=self.lora.enabled
            )
        except SpecError as exc:
            raise reason_error(exc.reason, field=exc.field) from None
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    @property
    def hp(self) -> dict[str, Any]:
        return self.hyperparameters


def spec_from_dict(data: Any) -> JobSpec:
    """Validates `data` and returns the normalised spec with every default filled in.

    Raises SpecError naming the first offending field: an unknown field first, then in the order of
    JobSpec's fields, the rules across fields, and the hyperparameters last.
    """
    if not isinstance(data, dict):
        raise SpecError("spec", "must be a JSON object")
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        first = errors_read(exc)[0]
        raise SpecError(first.path, first.reason) from None


def spec_load(path: str | Path) -> JobSpec:
    """Reads and validates a spec file; SpecError("spec", ...) when it is not readable JSON."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError("spec", f"cannot read {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise SpecError("spec", f"not valid JSON: {exc}") from exc
    return spec_from_dict(data)
