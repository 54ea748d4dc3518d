"""What the method backends share: the outcome they return, the TrainingArguments common to every TRL
config, LoRA settings, the weights' dtype, checkpoints, the fit loop and saving final/."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from training.engine.callbacks import MetricsCallback
from training.engine.data import Splits
from training.engine.hardware import Hardware
from training.engine.spec import JobSpec

log = logging.getLogger("training.engine")


@dataclass
class TrainOutcome:
    final_metrics: dict[str, Any]
    policy: Any | None = None  # the trained causal LM (None for reward runs), for after-samples


# Written last into a checkpoint by transformers' Trainer, so its presence means the rest is there.
TRAINER_STATE = "trainer_state.json"
# The PPO value model, which TRL's PPO checkpoints leave out (methods/ppo.py adds it).
PPO_VALUE_FILE = "value_model.safetensors"


def latest_checkpoint(output_dir: str | Path, *, requires: tuple[str, ...] = ()) -> str | None:
    """The newest complete checkpoints/checkpoint-<step> directory (it has trainer_state.json and the files
    named in `requires`), or None. A checkpoint that a killed process left half-written is passed over."""
    root = Path(output_dir) / "checkpoints"
    candidates = [
        p
        for p in root.glob("checkpoint-*")
        if p.is_dir()
        and p.name.split("-")[-1].isdigit()
        and all((p / name).is_file() for name in (TRAINER_STATE, *requires))
    ]
    if not candidates:
        return None
    return str(max(candidates, key=lambda p: int(p.name.split("-")[-1])))


def weight_dtype(hardware: Hardware, spec: JobSpec) -> torch.dtype:
    """The dtype models are loaded in for training."""
    # With LoRA the base weights are frozen, so they may live in bf16/fp16; full fine-tuning keeps fp32
    # master weights and lets autocast do the mixed precision.
    if spec.lora.enabled and hardware.precision == "bf16":
        return torch.bfloat16
    if spec.lora.enabled and hardware.precision == "fp16":
        return torch.float16
    return torch.float32


def peft_config(spec: JobSpec, task_type: str) -> Any:
    """The LoRA config of the spec for `task_type` ("CAUSAL_LM", "SEQ_CLS"), or None without LoRA."""
    if not spec.lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=spec.lora.r,
        lora_alpha=spec.lora.alpha,
        lora_dropout=spec.lora.dropout,
        target_modules=spec.lora.target_modules,
        task_type=task_type,
    )


def training_args(
    spec: JobSpec, hardware: Hardware, splits: Splits, *, evaluates: bool = True
) -> dict[str, Any]:
    """The TrainingArguments fields every method's TRL config takes. `evaluates` False: no evaluation loop
    (PPO and RLOO, whose evaluation would mean generating)."""
    hp = spec.hp
    has_eval = evaluates and splits.eval is not None
    args = {
        "output_dir": str(Path(spec.output_dir) / "checkpoints"),
        "seed": spec.seed,
        "learning_rate": hp["learning_rate"],
        "max_steps": hp["max_steps"],
        "num_train_epochs": hp["num_train_epochs"],
        "per_device_train_batch_size": hp["per_device_train_batch_size"],
        "per_device_eval_batch_size": hp["per_device_eval_batch_size"],
        "gradient_accumulation_steps": hp["gradient_accumulation_steps"],
        "logging_steps": hp["logging_steps"],
        "logging_first_step": True,
        "save_strategy": "steps",
        "save_steps": hp["save_steps"],
        "save_total_limit": hp["save_total_limit"],
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": hp["eval_steps"],
        "warmup_steps": hp["warmup_ratio"],
        "weight_decay": hp["weight_decay"],
        "lr_scheduler_type": hp["lr_scheduler_type"],
        "max_grad_norm": hp["max_grad_norm"],
        "gradient_checkpointing": hp["gradient_checkpointing"] and not hardware.use_cpu,
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        # Every trainable parameter (LoRA or full) takes part in each step; the DDP default (True unless
        # gradient checkpointing) costs an extra pass over the autograd graph per step.
        "ddp_find_unused_parameters": False,
        **hardware.trainer_kwargs(),
    }
    if evaluates:
        args["eval_on_start"] = has_eval  # a step-0 baseline for the curves and the card
    return args


def main_only(trainer: Any, action: Callable[[], object]) -> None:
    """Runs `action` on the main process only, then lets the other processes catch up."""
    if trainer.accelerator.is_main_process:
        action()
    trainer.accelerator.wait_for_everyone()


def train_metrics(callback: MetricsCallback) -> dict[str, Any]:
    """The last logged training figures, without the run summary (train_runtime, train_loss, ...)."""
    return {k: v for k, v in callback.last_train.items() if not k.startswith("train_")}


def fit(trainer: Any, spec: JobSpec, splits: Splits, callback: MetricsCallback, resume: bool) -> dict:
    """Trains (from the newest complete checkpoint when resuming), evaluates once more unless the last step
    did, and returns the final training and eval figures."""
    checkpoint = latest_checkpoint(spec.output_dir) if resume else None
    if checkpoint:
        log.info("resuming from %s", checkpoint)
    trainer.train(resume_from_checkpoint=checkpoint)
    if splits.eval is not None and callback.last_eval_step != trainer.state.global_step:
        trainer.evaluate()  # the final figures, unless the last step was an eval step already
    metrics = train_metrics(callback)
    metrics.update(callback.last_eval)
    return metrics


def final_save(trainer: Any, tokenizer: Any, spec: JobSpec) -> Path:
    """Saves the trained model (every process takes part, so sharded weights are gathered) and, from the
    main process, the tokenizer to output_dir/final; returns that directory."""
    final = Path(spec.output_dir) / "final"
    trainer.save_model(str(final))
    main_only(trainer, lambda: tokenizer.save_pretrained(final))
    return final
