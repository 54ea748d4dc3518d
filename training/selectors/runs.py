"""Read queries for runs, their files and the model versions they produced."""

from __future__ import annotations

import json
from pathlib import Path

from django.db.models import Q, QuerySet

from annotation.models import Project
from rankwise.errors import NotFound
from training.models import (
    Artifact,
    ModelVersion,
    Run,
)
from training.services.storage import file_tail


def run_list(*, project: Project, status: str = "", method: str = "") -> QuerySet[Run]:
    runs = Run.objects.filter(project=project).select_related(
        "project", "snapshot", "launched_by", "base_version", "reward_version"
    )
    if status:
        runs = runs.filter(status=status)
    if method:
        runs = runs.filter(method=method)
    return runs


def run_get(*, project: Project, run_id: int) -> Run:
    run = run_list(project=project).filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"No run {run_id} in project {project.name!r}.")
    return run


def run_artifacts(*, run: Run) -> QuerySet[Artifact]:
    return Artifact.objects.filter(run=run)


def artifact_path(*, run: Run, artifact_id: int) -> Path:
    """The file of one of the run's artifacts; NotFound for another run's or a path outside output_dir."""
    artifact = Artifact.objects.filter(run=run, pk=artifact_id).first()
    output = Path(run.output_dir).resolve()
    path = (output / artifact.path).resolve() if artifact else None
    if path is None or not path.is_relative_to(output) or not path.is_file():
        raise NotFound(f"No artifact {artifact_id} for run {run.pk}.")
    return path


def run_text_file(*, run: Run, name: str, tail_bytes: int | None = None) -> str:
    """A text file of the run's output (the log, the model card), or its last `tail_bytes`; "" if absent."""
    if not run.output_dir:
        return ""
    path = Path(run.output_dir) / name
    if tail_bytes is not None:
        return file_tail(path, tail_bytes)
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return ""


def run_result(*, run: Run) -> dict | None:
    """The engine's result.json (seconds, peak memory, final metrics, samples before/after), if written."""
    text = run_text_file(run=run, name="result.json")
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return None


def model_directory(*, run: Run) -> Path:
    """The run's final/ directory; NotFound until the run has produced one."""
    final = Path(run.output_dir) / "final"
    if run.status != Run.Status.SUCCEEDED or not run.output_dir or not final.is_dir():
        raise NotFound(f"Run {run.pk} has no trained model to download.")
    return final


def model_version_list(*, project: Project) -> QuerySet[ModelVersion]:
    """Model versions trained in the project, and those registered without a run (shared bases)."""
    return ModelVersion.objects.filter(Q(run__project=project) | Q(run__isnull=True)).select_related("run")


def reward_version_list(*, project: Project) -> QuerySet[ModelVersion]:
    """The reward model versions a project may score with (and order its queue by)."""
    return model_version_list(project=project).filter(is_reward_model=True)
