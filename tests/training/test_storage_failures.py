"""A full or read-only data directory while a snapshot is frozen or a run trains.

The disk is a 1 MiB tmpfs mounted for the test (tests/conftest.py: small_disk). Each failure must
say plainly that the disk is full or read-only, and leave no half-written snapshot behind; a run
must end failed (not stay "running" until the reaper blames its heartbeat).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Project
from tests.conftest import SmallDisk
from tests.factories import ProjectFactory
from tests.training.conftest import judged_project
from training.jobs.runs import run_execute
from training.models import DatasetSnapshot, ModelVersion, Run
from training.services.runs import RunLaunchSpec, run_launch
from training.services.snapshots import SnapshotSpec, snapshot_create

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

REASONS = {"full": "the disk is full (No space left on device)", "read-only": "the file system is read-only"}


def _break(disk: SmallDisk, how: str) -> None:
    if how == "full":
        disk.fill()
    else:
        disk.read_only()


@pytest.mark.parametrize("how", ["full", "read-only"])
def test_a_snapshot_on_a_broken_disk_fails_clearly_and_keeps_nothing(
    small_disk: SmallDisk, settings, how: str
) -> None:
    judged_project(ProjectFactory(slug="disk"), comparisons=12)
    settings.DATA_DIR = small_disk.path
    (small_disk.path / "snapshots").mkdir()
    _break(small_disk, how)

    with pytest.raises(CommandError) as refused:
        call_command("snapshot_create", "disk", "--name", "frozen")
    assert REASONS[how] in str(refused.value) and "Nothing was kept" in str(refused.value)
    snapshot = DatasetSnapshot.objects.get(name="frozen")
    assert snapshot.status == DatasetSnapshot.Status.FAILED
    assert REASONS[how] in snapshot.error and "snapshots" in snapshot.error
    assert list((small_disk.path / "snapshots").iterdir()) == [], "a half-written snapshot was left"
    assert not DatasetSnapshot.objects.exclude(status=DatasetSnapshot.Status.FAILED).exists()


def _run_on(disk: SmallDisk, settings, model: str, *, lora: bool) -> Run:
    project: Project = judged_project(ProjectFactory(), comparisons=12)
    snapshot = snapshot_create(spec=SnapshotSpec(name="tiny", projects=[project], eval_fraction=0.25))
    settings.DATA_DIR = disk.path  # the run's output directory goes on the small disk
    return run_launch(
        project=project,
        spec=RunLaunchSpec(
            method="reward",
            snapshot=snapshot,
            base_model=model,
            device="cpu",
            hyperparameters={"per_device_train_batch_size": 4, "max_steps": 4, "save_steps": 2},
            lora={"enabled": lora},
        ),
    )


def test_a_run_whose_output_directory_is_read_only_fails_at_once(
    small_disk: SmallDisk, settings, tiny_model: str
) -> None:
    run = _run_on(small_disk, settings, tiny_model, lora=True)
    small_disk.read_only()
    run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert (
        run.error.startswith("Could not write the run's output directory")
        and REASONS["read-only"] in run.error
    )


@pytest.mark.training
def test_a_run_that_fills_the_disk_fails_saying_so(small_disk: SmallDisk, settings, tiny_model: str) -> None:
    # Full fine-tuning: a checkpoint (weights and optimizer state, ~2 MB) cannot fit in 1 MiB.
    run = _run_on(small_disk, settings, tiny_model, lora=False)
    run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED, run.error
    assert REASONS["full"] in run.error, run.error
    assert not (Path(run.output_dir) / "final").exists()
    assert not ModelVersion.objects.filter(run=run).exists()
