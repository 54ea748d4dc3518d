"""PPO (trl.experimental.ppo.PPOTrainer, TRL 1.12): a policy, a reward model and a value model started from
it, on pre-tokenized prompts, made resumable here since TRL's PPO train() takes no checkpoint."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback
from trl.experimental.ppo import PPOConfig, PPOTrainer

from training.engine.callbacks import MetricsCallback
from training.engine.data import Splits
from training.engine.generation import prompt_ids
from training.engine.hardware import Hardware
from training.engine.loading import model_load_causal_lm, reward_model_load, tokenizer_load
from training.engine.methods.common import (
    PPO_VALUE_FILE,
    TRAINER_STATE,
    TrainOutcome,
    final_save,
    latest_checkpoint,
    peft_config,
    train_metrics,
    training_args,
    weight_dtype,
)
from training.engine.spec import JobSpec

log = logging.getLogger("training.engine")


def _tokenized_prompts(dataset: Any, tokenizer: Any, max_length: int) -> Any:
    """PPO takes pre-tokenized prompts: the chat template with the assistant turn opened."""
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
    return OnlineTrainerState.load_from_json(str(folder / TRAINER_STATE))


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


def train(
    spec: JobSpec, hardware: Hardware, splits: Splits, callback: MetricsCallback, *, resume: bool
) -> TrainOutcome:
    hp = spec.hp
    tokenizer = tokenizer_load(spec.base_model)
    tokenizer.padding_side = "left"  # generation continues the prompt, so prompts are left-padded
    dtype = weight_dtype(hardware, spec)
    policy = model_load_causal_lm(spec.base_model, dtype=dtype)
    # The reward model scores the policy's token ids directly, so it must share the policy's tokenizer. The
    # value model starts from the reward model (as in the InstructGPT recipe).
    reward_model, _ = reward_model_load(spec.reward_model, dtype=dtype)
    value_model, _ = reward_model_load(spec.reward_model, dtype=dtype)
    train = _tokenized_prompts(splits.train, tokenizer, hp["max_length"])
    evaluation = _tokenized_prompts(splits.eval, tokenizer, hp["max_length"]) if splits.eval else train
    # PPO has no evaluation loop; eval prompts feed sample generations only.
    common = training_args(spec, hardware, splits, evaluates=False)
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
        peft_config=peft_config(spec, "CAUSAL_LM"),
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
    tokenizer.padding_side = "right"  # final/ is loaded as any trained model is
    final_save(trainer, tokenizer, spec)
    return TrainOutcome(final_metrics=train_metrics(callback), policy=trainer.model.policy)
