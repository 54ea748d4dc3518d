"""Launching runs: the spec is built by the engine's `validate`, errors name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from annotation.models import Project
from rankwise.errors import ValidationFailed
from tests.factories import ModelVersionFactory, ProjectFactory
from tests.training.conftest import judged_project
from training.models import DatasetSnapshot, Run
from training.services.engine import method_defaults
from training.services.runs import RunLaunchSpec, run_command, run_launch
from training.services.snapshots import SnapshotSpec, snapshot_create
from training.services.storage import base_model_check

pytestmark = pytest.mark.django_db


@pytest.fixture
def snapshot(project: Project, data_dir: Path) -> DatasetSnapshot:
    judged_project(project, comparisons=10)
    return snapshot_create(spec=SnapshotSpec(name="s", projects=[project], eval_fraction=0.3))


def test_launch_saves_a_queued_run_with_the_normalised_spec(
    project: Project, alice, snapshot: DatasetSnapshot, data_dir: Path, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        run = run_launch(
            project=project,
            launched_by=alice,
            spec=RunLaunchSpec(
                method="reward",
                snapshot=snapshot,
                base_model="tiny-model",
                hyperparameters={"max_steps": 3, "learning_rate": 1e-3},
            ),
        )
    assert len(callbacks) == 1
    assert run.status == Run.Status.QUEUED and run.attempt == 1
    assert Path(run.output_dir).parent == data_dir / "runs" and Path(run.output_dir).name.startswith(
        f"{run.pk}-"
    )
    spec = run.spec
    assert spec["output_dir"] == run.output_dir
    assert spec["train_file"] == str(Path(snapshot.directory) / "train.jsonl")
    assert spec["eval_file"] == str(Path(snapshot.directory) / "eval.jsonl")
    assert spec["snapshot"] == {"id": snapshot.pk, "sha256": snapshot.sha256}
    assert spec["hyperparameters"]["max_steps"] == 3 and spec["hyperparameters"]["learning_rate"] == 1e-3
    # Defaults the engine filled in.
    assert (
        spec["hyperparameters"]["per_device_train_batch_size"]
        == method_defaults(method="reward")["per_device_train_batch_size"]
    )
    assert spec["lora"]["enabled"] is True
    assert run_command(run=run).endswith(f"-m training.engine run {run.output_dir}/spec.json")


def test_engine_rejection_names_the_field(project: Project, snapshot: DatasetSnapshot) -> None:
    with pytest.raises(ValidationFailed) as error:
        run_launch(
            project=project,
            spec=RunLaunchSpec(method="dpo", snapshot=snapshot, base_model="m", hyperparameters={"beta": -1}),
        )
    assert error.value.details[0]["field"] == "hyperparameters.beta"
    assert not Run.objects.exists()


def test_rl_methods_need_a_reward_model_version(project: Project, snapshot: DatasetSnapshot) -> None:
    policy = ModelVersionFactory(name="policy", path="/m", method="sft", base="b")
    with pytest.raises(ValidationFailed) as error:
        run_launch(project=project, spec=RunLaunchSpec(method="ppo", snapshot=snapshot, base_model="m"))
    assert error.value.details == [{"field": "reward_version", "reason": "ppo needs a reward model version"}]
    with pytest.raises(ValidationFailed) as error:
        run_launch(
            project=project,
            spec=RunLaunchSpec(method="rloo", snapshot=snapshot, base_model="m", reward_version=policy),
        )
    assert error.value.details == [{"field": "reward_version", "reason": "is not a reward model"}]


def test_base_model_or_version_and_sft_needs_demonstrations(
    project: Project, snapshot: DatasetSnapshot
) -> None:
    with pytest.raises(ValidationFailed) as error:
        run_launch(project=project, spec=RunLaunchSpec(method="sft", snapshot=snapshot, base_model=""))
    assert {d["field"] for d in error.value.details} == {"base_model", "snapshot"}


def test_snapshot_must_include_the_project(snapshot: DatasetSnapshot) -> None:
    with pytest.raises(ValidationFailed) as error:
        run_launch(
            project=ProjectFactory(), spec=RunLaunchSpec(method="reward", snapshot=snapshot, base_model="m")
        )
    assert error.value.details[0]["field"] == "snapshot"


def test_method_defaults_come_from_the_engine() -> None:
    assert method_defaults(method="dpo")["beta"] > 0
    with pytest.raises(ValidationFailed):
        method_defaults(method="magic")


def test_a_policy_run_without_sample_prompts_samples_the_snapshot_s_first_prompts(
    project: Project, snapshot: DatasetSnapshot
) -> None:
    rows = [
        json.loads(line)
        for name in ("eval.jsonl", "train.jsonl")
        for line in (Path(snapshot.directory) / name).read_text().splitlines()
    ]
    first = list(dict.fromkeys(row["prompt"] for row in rows))[:3]
    dpo = run_launch(project=project, spec=RunLaunchSpec(method="dpo", snapshot=snapshot, base_model="m"))
    assert dpo.spec["sample_prompts"] == first and len(first) == 3
    given = run_launch(
        project=project,
        spec=RunLaunchSpec(method="dpo", snapshot=snapshot, base_model="m", sample_prompts=["Why?"]),
    )
    assert given.spec["sample_prompts"] == ["Why?"]
    # A reward model generates nothing.
    assert (
        run_launch(
            project=project, spec=RunLaunchSpec(method="reward", snapshot=snapshot, base_model="m")
        ).spec["sample_prompts"]
        == []
    )


def test_a_base_model_path_must_lie_under_the_model_roots(
    project: Project, alice, snapshot: DatasetSnapshot, data_dir: Path, settings, tmp_path: Path
) -> None:
    """An admin of one project trained on another project's run output by giving its directory."""
    elsewhere = data_dir / "runs" / "7-otherproject" / "final"
    elsewhere.mkdir(parents=True)
    shared = tmp_path / "shared-models" / "llama"
    shared.mkdir(parents=True)
    (data_dir / "models" / "mine").mkdir(parents=True)
    api = APIClient()
    api.force_authenticate(alice)
    url = reverse("training-api:runs", args=[project.slug])
    for refused in (str(elsewhere), f"{data_dir}/models/../runs/7-otherproject/final", str(shared), "a b"):
        answer = api.post(
            url, {"method": "reward", "snapshot": snapshot.pk, "base_model": refused}, format="json"
        )
        assert answer.status_code == 400 and answer.json()["details"][0]["field"] == "base_model", refused
    assert not Run.objects.exists()
    settings.RANKWISE_MODEL_ROOTS = [shared.parent]
    for allowed in (str(shared), str(data_dir / "models" / "mine"), "HuggingFaceTB/SmolLM2-135M", "gpt2"):
        assert base_model_check(value=allowed, field="base_model") == allowed
