"""Direct preference optimisation (TRL's DPOTrainer), optionally with an SFT term on the chosen answers
(`sft_weight`, RPO)."""

from __future__ import annotations

from trl import DPOConfig, DPOTrainer

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
    args = DPOConfig(
        **training_args(spec, hardware, splits),
        max_length=spec.hp["max_length"],
        beta=spec.hp["beta"],
        loss_type=[spec.hp["loss_type"], "sft"] if spec.hp["sft_weight"] else [spec.hp["loss_type"]],
        loss_weights=[1.0, spec.hp["sft_weight"]] if spec.hp["sft_weight"] else None,
        label_smoothing=spec.hp["label_smoothing"],
    )
    # With LoRA the reference model is the base with the adapter disabled, so no second copy is loaded.
    ref_model = (
        None
        if spec.lora.enabled
        else model_load_causal_lm(spec.base_model, dtype=weight_dtype(hardware, spec))
    )
    trainer = DPOTrainer(
        model=model,
        ref_model=ref_model,
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
