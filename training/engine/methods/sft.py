"""Supervised fine-tuning (TRL's SFTTrainer) on conversations, prompt/completion pairs or plain text."""

from __future__ import annotations

from trl import SFTConfig, SFTTrainer

from training.engine.callbacks import MetricsCallback
from training.engine.data import Splits
from training.engine.hardware import Hardware
from training.engine.loading import model_load_causal_lm, tokenizer_load
from training.engine.methods.common import (
    TrainOutcome,
    final_save,
    fit,
    peft_config,
    training_args,
    weight_dtype,
)
from training.engine.spec import JobSpec


def train(
    spec: JobSpec, hardware: Hardware, splits: Splits, callback: MetricsCallback, *, resume: bool
) -> TrainOutcome:
    tokenizer = tokenizer_load(spec.base_model)
    model = model_load_causal_lm(spec.base_model, dtype=weight_dtype(hardware, spec))
    columns = set(splits.train.column_names)
    args = SFTConfig(
        **training_args(spec, hardware, splits),
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
        peft_config=peft_config(spec, "CAUSAL_LM"),
        callbacks=[callback],
    )
    metrics = fit(trainer, spec, splits, callback, resume)
    final_save(trainer, tokenizer, spec)
    return TrainOutcome(final_metrics=metrics, policy=trainer.model)
