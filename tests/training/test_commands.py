"""The snapshot_create and run_launch commands."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Project
from tests.training.conftest import judged_project
from training.models import DatasetSnapshot, Run

pytestmark = pytest.mark.django_db


def test_snapshot_then_run_from_the_command_line(
    project: Project, data_dir: Path, django_capture_on_commit_callbacks
) -> None:
    judged_project(project, comparisons=6)
    out = io.StringIO()
    call_command(
        "snapshot_create", project.slug, "--name", "cli", "--seed", "2", "--filter", "ties=keep", stdout=out
    )
    snapshot = DatasetSnapshot.objects.get()
    assert f"snapshot {snapshot.pk} ready" in out.getvalue() and snapshot.sha256 in out.getvalue()
    assert snapshot.filters == {"ties": "keep"} and snapshot.split_seed == 2

    out = io.StringIO()
    with django_capture_on_commit_callbacks() as callbacks:
        call_command(
            "run_launch",
            project.slug,
            "--method",
            "reward",
            "--snapshot",
            str(snapshot.pk),
            "--base-model",
            "tiny",
            "--hp",
            "max_steps=2",
            "--hp",
            "lr_scheduler_type=cosine",
            stdout=out,
        )
    run = Run.objects.get()
    assert len(callbacks) == 1 and f"run {run.pk} queued" in out.getvalue()
    assert run.spec["hyperparameters"]["max_steps"] == 2
    assert run.spec["hyperparameters"]["lr_scheduler_type"] == "cosine"


def test_commands_report_errors(project: Project, data_dir: Path) -> None:
    with pytest.raises(CommandError, match="No project nope"):
        call_command("snapshot_create", "nope", "--name", "x")
    with pytest.raises(CommandError, match="ties"):
        call_command("snapshot_create", project.slug, "--name", "x", "--filter", "ties=maybe")
    judged_project(project, comparisons=2)
    call_command("snapshot_create", project.slug, "--name", "ok", stdout=io.StringIO())
    snapshot = DatasetSnapshot.objects.get()
    with pytest.raises(CommandError, match="hyperparameters.beta"):
        call_command(
            "run_launch",
            project.slug,
            "--method",
            "dpo",
            "--snapshot",
            str(snapshot.pk),
            "--base-model",
            "m",
            "--hp",
            "beta=-1",
        )
    assert not Run.objects.exists()
