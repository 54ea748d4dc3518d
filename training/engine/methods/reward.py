"""Reward modelling (TRL's RewardTrainer, Bradley–Terry loss) on preference pairs. final/ holds the merged
standalone sequence classifier, which PPO, RLOO and the score command load directly."""

from __future__ import annotations

from pathlib import Path

import torch
from trl import RewardConfig, RewardTrainer

from training.engine.callbacks import MetricsCallback
from training.engine.data import Splits
from training.engine.hardware import Hardware
from training.engine.loading import classifier_load, model_load_causal_lm, tokenizer_load
from training.engine.methods.common import (
    TrainOutcome,
    final_save,
    fit,
    main_only,
    peft_config,
    training_args,
    weight_dtype,
)
from training.engine.spec import JobSpec


def train(
    spec: JobSpec, hardware: Hardware, splits: Splits, callback: MetricsCallback, *, resume: bool
) -> TrainOutcome:
    tokenizer = tokenizer_load(spec.base_model)
    args = RewardConfig(
        **training_args(spec, hardware, splits),
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
    model = classifier_load(base, pad_token_id=tokenizer.pad_token_id, dtype=weight_dtype(hardware, spec))
    trainer = RewardTrainer(
        model=model,
        args=args,
        train_dataset=splits.train,
        eval_dataset=splits.eval,
        processing_class=tokenizer,
        peft_config=peft_config(spec, "SEQ_CLS"),
        callbacks=[callback],
    )
    metrics = fit(trainer, spec, splits, callback, resume)
    if not spec.lora.enabled:
        final_save(trainer, tokenizer, spec)
        return TrainOutcome(final_metrics=metrics, policy=None)
    # The adapter goes to final/adapter/; final/ itself holds the merged standalone classifier that
    # AutoModelForSequenceClassification (and PPO/RLOO runs) load directly. save_model gathers sharded
    # weights (DeepSpeed ZeRO-3), and the merge happens on one process from the saved files.
    final = Path(spec.output_dir) / "final"
    trainer.save_model(str(final / "adapter"))

    def merge() -> None:
        from peft import PeftModel

        backbone = classifier_load(base, pad_token_id=tokenizer.pad_token_id)
        merged = PeftModel.from_pretrained(backbone, str(final / "adapter")).merge_and_unload()
        merged.save_pretrained(final)
        tokenizer.save_pretrained(final)
        tokenizer.save_pretrained(final / "adapter")

    main_only(trainer, merge)
    return TrainOutcome(final_metrics=metrics, policy=None)
