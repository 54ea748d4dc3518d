"""The proof that exports train as they are: TRL's DPOTrainer and RewardTrainer, two steps each."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from annotation.models import Judgment, Project
from annotation.services.exporting import ExportSpec, export_write
from tests.factories import UserFactory, make_comparison

pytestmark = [pytest.mark.django_db, pytest.mark.training]

CPU = {"use_cpu": True, "bf16": False, "fp16": False, "gradient_checkpointing": False, "report_to": "none"}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    from training.engine.testing.tiny import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("tiny-model")))


def export_file(project: Project, path: Path, **spec: object) -> Path:
    with open(path, "wb") as out:
        result = export_write(projects=[project], spec=ExportSpec(**spec), out=out)
    assert result.rows >= 4
    return path


@pytest.fixture
def judged_project(db: None) -> Project:
    """Pairs and a ranking with a tie, judged by two annotators."""
    project = Project.objects.create(name="TRL", slug="trl")
    users = [UserFactory(username=name, password=None) for name in ("alice", "bob")]
    for n in range(3):
        comparison = make_comparison(project=project, candidates=3 if n == 2 else 2)
        order = list(comparison.slots.values_list("candidate_id", flat=True))
        orderings = [[[c] for c in order], [order[:2], order[2:]] if n == 2 else [[c] for c in order]]
        for user, ordering in zip(users, orderings, strict=True):
            Judgment.objects.create(
                comparison=comparison, annotator=user, ordering=ordering, submission_token=uuid.uuid4().hex
            )
    return project


def test_exported_preferences_train_with_dpo(
    judged_project: Project, tiny_model: str, tmp_path: Path
) -> None:
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    # Standard strings with the extra columns an export carries: comparison_id and tie metadata.
    path = export_file(judged_project, tmp_path / "preference.jsonl", ties="keep")
    dataset = load_dataset("json", data_files=str(path), split="train")
    assert {"prompt", "chosen", "rejected", "comparison_id", "metadata"} <= set(dataset.column_names)
    trainer = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model),
        args=DPOConfig(
            output_dir=str(tmp_path / "dpo"), max_steps=2, per_device_train_batch_size=2,
            max_length=128, logging_steps=1, save_strategy="no", **CPU,
        ),
        train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(tiny_model),
    )  # fmt: skip
    trainer.train()
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    assert len(losses) == 2 and all(loss > 0 for loss in losses)


def test_exported_conversational_preferences_train_a_reward_model(
    judged_project: Project, tiny_model: str, tmp_path: Path
) -> None:
    from datasets import load_dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    path = export_file(judged_project, tmp_path / "preference.jsonl", conversational=True)
    dataset = load_dataset("json", data_files=str(path), split="train")
    assert dataset[0]["chosen"][0]["role"] == "assistant"
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1)
    model.config.pad_token_id = tokenizer.pad_token_id
    trainer = RewardTrainer(
        model=model,
        args=RewardConfig(
            output_dir=str(tmp_path / "reward"), max_steps=2, per_device_train_batch_size=2,
            max_length=128, logging_steps=1, save_strategy="no", **CPU,
        ),
        train_dataset=dataset,
        processing_class=tokenizer,
    )  # fmt: skip
    trainer.train()
    losses = [log["loss"] for log in trainer.state.log_history if "loss" in log]
    assert len(losses) == 2
