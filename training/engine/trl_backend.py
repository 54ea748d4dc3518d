"""The one module that imports TRL: turns a JobSpec into a TRL trainer per method and trains it.

Swapping the backend (an own PPO, OpenRLHF for large clusters) means replacing this module only; the
runner talks to it through `train(...)` and `TrainOutcome`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

from training.engine.callbacks import MetricsCallback
from training.engine.data import Splits
from training.engine.hardware import Hardware
from training.engine.loading import classifier_load, model_load_causal_lm, reward_model_load, tokenizer_load
from training.engine.spec import JobSpec

log = logging.getLogger("training.engine")


@dataclass
class TrainOutcome:
    final_metrics: dict[str, Any]
    policy: Any | None = None  # the trained causal LM (None for reward runs), for after-samples


# Written last into a checkpoint by transformers' Trainer, so its presence means the rest is there.
_TRAINER_STATE = "trainer_state.json"
# The PPO value model, which TRL's PPO checkpoints leave out (see _PPOCheckpoints).
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
        and all((p / name).is_file() for name in (_TRAINER_STATE, *requires))
    ]
    if not candidates:
        return None
    return str(max(candidates, key=lambda p: int(p.name.split("-")[-1])))


def _dtype(hardware: Hardware, spec: JobSpec) -> torch.dtype:
    # With LoRA the base weights are frozen, so they may live in bf16/fp16; full fine-tuning keeps fp32
    # master weights and lets autocast do the mixed precision.
    if spec.lora.enabled and hardware.precision == "bf16":
        return torch.bfloat16
    if spec.lora.enabled and hardware.precision == "fp16":
        return torch.float16
    return torch.float32


def _peft_config(spec: JobSpec, task_type: str) -> Any:
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


def _common_args(spec: JobSpec, hardware: Hardware, splits: Splits) -> dict[str, Any]:
    hp = spec.hp
    has_eval = splits.eval is not None
    return {
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
        "eval_on_start": has_eval,  # a step-0 baseline for the curves and the card
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


def _main_only(trainer: Any, action: Any) -> None:
    """Runs `action` on the main process only, then lets the other processes catch up."""
    if trainer.accelerator.is_main_process:
        action()
    trainer.accelerator.wait_for_everyone()


def _fit(trainer: Any, spec: JobSpec, splits: Splits, callback: MetricsCallback, resume: bool) -> dict:
    checkpoint = latest_checkpoint(spec.output_dir) if resume else None
    if checkpoint:
        log.info("resuming from %s", checkpoint)
    trainer.train(resume_from_checkpoint=checkpoint)
    if splits.eval is not None and callback.last_eval_step != trainer.state.global_step:
        trainer.evaluate()  # the final figures, unless the last step was an eval step already
    metrics = {k: v for k, v in callback.last_train.items() if not k.startswith("train_")}
    metrics.update(callback.last_eval)
    return metrics


def _train_sft(spec, hardware, splits, callback, resume) -> TrainOutcome:
    from trl import SFTConfig, SFTTrainer

    tokenizer = tokenizer_load(spec.base_model)
    model = model_load_causal_lm(spec.base_model, dtype=_dtype(hardware, spec))
    columns = set(splits.train.column_names)
    args = SFTConfig(
        **_common_args(spec, hardware, splits),
        max_length=spec.hp["max_length"],
        packing=spec.hp["packing"],
        completion_only_loss=spec.hp["completion_only_loss"] if "completion" in columns else None,
        dataset_text_field="text",
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=splits.train,
        eval_dataset=splits.eval,
        processing_class=tokenizer,
        peft_config=_peft_config(spec, "CAUSAL_LM"),
        callbacks=[callback],
    )
    metrics = _fit(trainer, spec, splits, callback, resume)
    final = Path(spec.output_dir) / "final"
    trainer.save_model(str(final))
    _main_only(trainer, lambda: tokenizer.save_pretrained(final))
    return TrainOutcome(final_metrics=metrics, policy=trainer.model)


def _train_reward(spec, hardware, splits, callback, resume) -> TrainOutcome:
    from trl import RewardConfig, RewardTrainer

    tokenizer = tokenizer_load(spec.base_model)
    args = RewardConfig(
        **_common_args(spec, hardware, splits),
        max_length=spec.hp["max_length"],
        center_rewards_coefficient=spec.hp["center_rewards_coefficient"] or None,
    )
    base = spec.base_model
    if (Path(base) / "adapter_config.json").is_file():
        merged = Path(spec.output_dir) / "base-merged"
        # In a distributed run the main process writes it (output_dir is shared by all nodes) while the
        # others wait, then they only read it.
        with args.main_process_first(local=False, desc="merging the base adapter"):
            if not merged.is_dir():
                model_load_causal_lm(base).save_pretrained(merged)
                tokenizer.save_pretrained(merged)
        base = str(merged)
    torch.manual_seed(spec.seed)  # the score head is initialised randomly
    model = classifier_load(base, pad_token_id=tokenizer.pad_token_id, dtype=_dtype(hardware, spec))
    trainer = RewardTrainer(
        model=model,
        args=args,
        train_dataset=splits.train,
        eval_dataset=splits.eval,
        processing_class=tokenizer,
        peft_config=_peft_config(spec, "SEQ_CLS"),
        callbacks=[callback],
    )
    metrics = _fit(trainer, spec, splits, callback, resume)
    final = Path(spec.output_dir) / "final"
    if not spec.lora.enabled:
        trainer.save_model(str(final))
        _main_only(trainer, lambda: tokenizer.save_pretrained(final))
        return TrainOutcome(final_metrics=metrics, policy=None)
    # The adapter goes to final/adapter/; final/ itself holds the merged standalone classifier that
    # AutoModelForSequenceClassification (and PPO/RLOO runs) load directly. save_model gathers sharded
    # weights (DeepSpeed ZeRO-3), and the merge happens on one process from the saved files.
    trainer.save_model(str(final / "adapter"))

    def merge() -> None:
        from peft import PeftModel

        backbone = classifier_load(base, pad_token_id=tokenizer.pad_token_id)
        merged = PeftModel.from_pretrained(backbone, str(final / "adapter")).merge_and_unload()
        merged.save_pretrained(final)
        tokenizer.save_pretrained(final)
        tokenizer.save_pretrained(final / "adapter")

    _main_only(trainer, merge)
    return TrainOutcome(final_metrics=metrics, policy=None)


def _train_dpo(spec, hardware, splits, callback, resume) -> TrainOutcome:
    from trl import DPOConfig, DPOTrainer

    tokenizer = tokenizer_load(spec.base_model)
    model = model_load_causal_lm(spec.base_model, dtype=_dtype(hardware, spec))
    args = DPOConfig(
        **_common_args(spec, hardware, splits),
        max_length=spec.hp["max_length"],
        beta=spec.hp["beta"],
        loss_type=[spec.hp["loss_type"], "sft"] if spec.hp["sft_weight"] else [spec.hp["loss_type"]],
        loss_weights=[1.0, spec.hp["sft_weight"]] if spec.hp["sft_weight"] else None,
        label_smoothing=spec.hp["label_smoothing"],
    )
    # With LoRA the reference model is the base with the adapter disabled, so no second copy is loaded.
    ref_model = (
        None if spec.lora.enabled else model_load_causal_lm(spec.base_model, dtype=_dtype(hardware, spec))
    )
    trainer = DPOTrainer(
        model=model,
        ref_model=ref_model,
        args=args,
        train_dataset=splits.train,
        eval_dataset=splits.eval,
        processing_class=tokenizer,
        peft_config=_peft_config(spec, "CAUSAL_LM"),
        callbacks=[callback],
    )
    metrics = _fit(trainer, spec, splits, callback, resume)
    final = Path(spec.output_dir) / "final"
    trainer.save_model(str(final))
    _main_only(trainer, lambda: tokenizer.save_pretrained(final))
    return TrainOutcome(final_metrics=metrics, policy=trainer.model)


def _tokenized_prompts(dataset: Any, tokenizer: Any, max_length: int) -> Any:
    """PPO takes pre-tokenized prompts: the chat template with the assistant turn opened."""
    from training.engine.generation import prompt_ids

    tokenized = dataset.map(
        lambda row: {"input_ids": prompt_ids(tokenizer, row["prompt"])}, remove_columns=dataset.column_names
    )
    return tokenized.filter(lambda row: len(row["input_ids"]) <= max_length)


class _PPOCheckpoints(TrainerCallback):
    """Makes trl.experimental.ppo runs resumable. TRL's PPO checkpoints hold the policy, optimizer, scheduler,
    RNG and trainer state but not the value model, and its train() takes no checkpoint: it resets the step
    counter and always runs updates 1..num_total_batches. This callback adds the value model to each
    checkpoint; on a resumed run (`resumed` set to the checkpoint's state, after `_ppo_state_load`) it puts
    back the counters that train() has just reset and shortens TRL's loop to the updates that are left."""

    def __init__(self) -> None:
        self.resumed: Any | None = None  # the checkpoint's OnlineTrainerState
        self.total_updates = 0

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001 (HF callback signature)
        if self.resumed is None:
            return
        # train() reads args.num_total_batches for its loop right after this event; the scheduler was built
        # for the whole run and restored from the checkpoint, so the learning rate carries on where it was.
        self.total_updates = args.num_total_batches
        args.num_total_batches = max(self.total_updates - self.resumed.global_step, 0)
        state.global_step = self.resumed.global_step
        state.episode = self.resumed.episode
        state.max_steps = self.total_updates

    def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if self.resumed is not None:
            args.num_total_batches = self.total_updates

    def on_save(self, args, state, control, model=None, **kwargs):  # noqa: ANN001
        if args.should_save:
            from safetensors.torch import save_model

            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            save_model(model.value_model, str(folder / PPO_VALUE_FILE))


def _weights_load(module: Any, folder: Path) -> None:
    """Loads the weights save_pretrained wrote to `folder` (one file, or shards for large models) into
    `module` in place, so the optimizer's references to its parameters stay valid."""
    from safetensors.torch import load_model
    from transformers.trainer_utils import load_sharded_checkpoint

    single = folder / "model.safetensors"
    if single.is_file():
        load_model(module, str(single))  # strict, except names that share a tensor (tied embeddings)
        return
    result = load_sharded_checkpoint(module, str(folder), strict=False)
    if result.unexpected_keys:
        raise RuntimeError(f"{folder}: weights not in the model: {result.unexpected_keys[:5]}")


def _ppo_state_load(trainer: Any, checkpoint: str) -> Any:
    """Restores a PPO trainer in place from a checkpoint written with _PPOCheckpoints: policy (LoRA adapter or
    full weights), value model, optimizer, scheduler and RNG. Returns the checkpoint's trainer state.

    Called after the trainer is built, so the reference model is still the untrained base."""
    from peft import PeftModel, set_peft_model_state_dict
    from peft.utils import load_peft_weights
    from safetensors.torch import load_model
    from transformers.trainer import OPTIMIZER_NAME, SCHEDULER_NAME
    from trl.experimental.ppo.ppo_trainer import OnlineTrainerState

    folder = Path(checkpoint)
    wrapper = trainer.accelerator.unwrap_model(trainer.model)
    if isinstance(wrapper.policy, PeftModel):
        result = set_peft_model_state_dict(wrapper.policy, load_peft_weights(str(folder), device="cpu"))
        if result.unexpected_keys:
            raise RuntimeError(f"{folder}: adapter weights not in the policy: {result.unexpected_keys[:5]}")
    else:
        _weights_load(wrapper.policy, folder)
    load_model(wrapper.value_model, str(folder / PPO_VALUE_FILE))
    trainer.optimizer.load_state_dict(
        torch.load(folder / OPTIMIZER_NAME, map_location="cpu", weights_only=True)
    )
    trainer.lr_scheduler.load_state_dict(torch.load(folder / SCHEDULER_NAME, weights_only=True))
    trainer._load_rng_state(str(folder))  # the reader of the files Trainer._save_rng_state wrote
    return OnlineTrainerState.load_from_json(str(folder / _TRAINER_STATE))


def _ppo_ddp_patch(trainer: Any) -> None:
    """Lets trl.experimental.ppo (1.12) run under DDP without DeepSpeed, which it otherwise cannot.

    TRL reads `trainer.model.policy` (reference log-probs with LoRA, save_model) and `.config` (the
    checkpoint's model card), but under DDP trainer.model is the DistributedDataParallel wrapper, which has
    neither: plain instance attributes, not registered submodules (DDP's parameters and state_dict stay as
    they are), point them at the wrapped model's, which TRL uses without gradients. And PPOTrainer skips
    Trainer.__init__, so Trainer.save_model, which the replicas reach too, misses a flag it would have set.
    """
    wrapped = trainer.accelerator.unwrap_model(trainer.model)
    trainer.model.__dict__.update(policy=wrapped.policy, config=wrapped.config)
    trainer.is_distributed_loading_by_transformers = False


def _train_ppo(spec, hardware, splits, callback, resume) -> TrainOutcome:
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    hp = spec.hp
    tokenizer = tokenizer_load(spec.base_model)
    tokenizer.padding_side = "left"  # generation continues the prompt, so prompts are left-padded
    dtype = _dtype(hardware, spec)
    policy = model_load_causal_lm(spec.base_model, dtype=dtype)
    # The reward model scores the policy's token ids directly, so it must share the policy's tokenizer. The
    # value model starts from the reward model (as in the InstructGPT recipe).
    reward_model, _ = reward_model_load(spec.reward_model, dtype=dtype)
    value_model, _ = reward_model_load(spec.reward_model, dtype=dtype)
    train = _tokenized_prompts(splits.train, tokenizer, hp["max_length"])
    evaluation = _tokenized_prompts(splits.eval, tokenizer, hp["max_length"]) if splits.eval else train
    common = _common_args(spec, hardware, splits)
    common["eval_strategy"] = "no"  # PPO has no evaluation loop; eval prompts feed sample generations only
    common.pop("eval_on_start")
    max_steps = common.pop("max_steps")
    args = PPOConfig(
        **common,
        response_length=hp["response_length"],
        kl_coef=hp["kl_coef"],
        num_ppo_epochs=hp["num_ppo_epochs"],
        num_mini_batches=hp["num_mini_batches"],
        temperature=hp["temperature"],
        cliprange=hp["cliprange"],
        vf_coef=hp["vf_coef"],
        gamma=hp["gamma"],
        lam=hp["lam"],
        missing_eos_penalty=hp["missing_eos_penalty"] or None,
        whiten_rewards=hp["whiten_rewards"],
        stop_token="eos",
        num_sample_generations=0,
    )
    if max_steps > 0:
        # A TRL update takes batch × accumulation episodes on each process (WORLD_SIZE: set by the launcher).
        processes = int(os.environ.get("WORLD_SIZE", "1"))
        per_update = hp["per_device_train_batch_size"] * hp["gradient_accumulation_steps"] * processes
        args.total_episodes = max_steps * per_update
    checkpoints = _PPOCheckpoints()
    trainer = PPOTrainer(
        args=args,
        processing_class=tokenizer,
        model=policy,
        ref_model=None,  # a copy of the policy, or with LoRA the policy with its adapter disabled
        reward_model=reward_model,
        value_model=value_model,
        train_dataset=train,
        eval_dataset=evaluation,
        peft_config=_peft_config(spec, "CAUSAL_LM"),
        # Before the metrics callback: on a resumed run its start line must see the restored counters.
        callbacks=[checkpoints, callback],
    )
    if trainer.accelerator.num_processes > 1 and not trainer.is_deepspeed_enabled:
        _ppo_ddp_patch(trainer)
    checkpoint = latest_checkpoint(spec.output_dir, requires=(PPO_VALUE_FILE,)) if resume else None
    if checkpoint and trainer.is_deepspeed_enabled:
        # Under DeepSpeed the optimizer and weights are in the engine's own sharded checkpoint, which
        # _ppo_state_load does not read.
        log.warning("PPO under DeepSpeed does not resume from %s; training starts over", checkpoint)
        checkpoint = None
    if checkpoint:
        log.info("resuming from %s", checkpoint)
        checkpoints.resumed = _ppo_state_load(trainer, checkpoint)
    trainer.train()
    final = Path(spec.output_dir) / "final"
    trainer.save_model(str(final))
    tokenizer.padding_side = "right"
    _main_only(trainer, lambda: tokenizer.save_pretrained(final))
    metrics = {k: v for k, v in callback.last_train.items() if not k.startswith("train_")}
    return TrainOutcome(final_metrics=metrics, policy=trainer.model.policy)


def _train_rloo(spec, hardware, splits, callback, resume) -> TrainOutcome:
    from trl import RLOOConfig, RLOOTrainer

    from training.engine.generation import prompt_ids

    hp = spec.hp
    tokenizer = tokenizer_load(spec.base_model)
    tokenizer.padding_side = "left"
    dtype = _dtype(hardware, spec)
    policy = model_load_causal_lm(spec.base_model, dtype=dtype)
    # Unlike PPO, RLOO decodes completions and re-tokenizes them for the reward model, so the reward model
    # may use its own tokenizer.
    reward_model, reward_tokenizer = reward_model_load(spec.reward_model, dtype=dtype)
    train = splits.train.filter(lambda row: len(prompt_ids(tokenizer, row["prompt"])) <= hp["max_length"])
    common = _common_args(spec, hardware, splits)
    common["eval_strategy"] = "no"  # evaluation would mean generating; the scores are logged per step
    common.pop("eval_on_start")
    args = RLOOConfig(
        **common,
        num_generations=hp["num_generations"],
        max_completion_length=hp["max_completion_length"],
        temperature=hp["temperature"],
        beta=hp["beta"],
        num_iterations=hp["num_iterations"],
    )
    trainer = RLOOTrainer(
        model=policy,
        reward_funcs=reward_model,
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        reward_processing_classes=reward_tokenizer,
        peft_config=_peft_config(spec, "CAUSAL_LM"),
        callbacks=[callback],
    )
    checkpoint = latest_checkpoint(spec.output_dir) if resume else None
    trainer.train(resume_from_checkpoint=checkpoint)
    final = Path(spec.output_dir) / "final"
    trainer.save_model(str(final))
    tokenizer.padding_side = "right"
    _main_only(trainer, lambda: tokenizer.save_pretrained(final))
    metrics = {k: v for k, v in callback.last_train.items() if not k.startswith("train_")}
    return TrainOutcome(final_metrics=metrics, policy=trainer.model)


_TRAINERS = {
    "sft": _train_sft,
    "reward": _train_reward,
    "dpo": _train_dpo,
    "ppo": _train_ppo,
    "rloo": _train_rloo,
}


def train(
    spec: JobSpec, hardware: Hardware, splits: Splits, callback: MetricsCallback, *, resume: bool
) -> TrainOutcome:
    """Trains `spec.method`, writes output_dir/final and returns the final metrics and trained policy."""
    return _TRAINERS[spec.method](spec, hardware, splits, callback, resume)
