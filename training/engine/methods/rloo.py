"""RLOO (TRL's RLOOTrainer): k completions per prompt scored by a reward model, each baselined by the mean
of the others."""

from __future__ import annotations

from trl import RLOOConfig, RLOOTrainer

from training.engine.callbacks import MetricsCallback
from training.engine.data import Splits
from training.engine.generation import prompt_ids
from training.engine.hardware import Hardware
from training.engine.loading import model_load_causal_lm, reward_model_load, tokenizer_load
from training.engine.methods.common import (
    TrainOutcome,
    final_save,
    latest_checkpoint,
    peft_config,
    train_metrics,
    training_args,
    weight_dtype,
)
from training.engine.spec import JobSpec


def train(
    spec: JobSpec, hardware: Hardware, splits: Splits, callback: MetricsCallback, *, resume: bool
) -> TrainOutcome:
    hp = spec.hp
    tokenizer = tokenizer_load(spec.base_model)
    tokenizer.padding_side = "left"
    dtype = weight_dtype(hardware, spec)
    policy = model_load_causal_lm(spec.base_model, dtype=dtype)
    # Unlike PPO, RLOO decodes completions and re-tokenizes them for the reward model, so the reward model
    # may use its own tokenizer.
    reward_model, reward_tokenizer = reward_model_load(spec.reward_model, dtype=dtype)
    train = splits.train.filter(lambda row: len(prompt_ids(tokenizer, row["prompt"])) <= hp["max_length"])
    # No evaluation loop: it would mean generating; the scores are logged per step.
    args = RLOOConfig(
        **training_args(spec, hardware, splits, evaluates=False),
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
        peft_config=peft_config(spec, "CAUSAL_LM"),
        callbacks=[callback],
    )
    checkpoint = latest_checkpoint(spec.output_dir) if resume else None
    trainer.train(resume_from_checkpoint=checkpoint)
    tokenizer.padding_side = "right"  # final/ is loaded as any trained model is
    final_save(trainer, tokenizer, spec)
    return TrainOutcome(final_metrics=train_metrics(callback), policy=trainer.model)
