"""Read queries for training pages and the API."""

from __future__ import annotations

import json
from pathlib import Path

from django.db.models import Q, QuerySet

from annotation.errors import NotFound
from annotation.models import Project
from training.models import Arena, Artifact, DatasetSnapshot, GenerationJob, ModelVersion, Run, RunMetric


def snapshot_list(*, project: Project) -> QuerySet[DatasetSnapshot]:
    """Snapshots that include the project, newest first."""
    return (
        DatasetSnapshot.objects.filter(projects=project)
        .select_related("created_by")
        .prefetch_related("projects")
    )


def snapshot_get(*, project: Project, snapshot_id: int) -> DatasetSnapshot:
    snapshot = snapshot_list(project=project).filter(pk=snapshot_id).first()
    if snapshot is None:
        raise NotFound(f"No snapshot {snapshot_id} in project {project.name!r}.")
    return snapshot


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


def run_metrics(*, run: Run, after_step: int = -1) -> list[dict]:
    """The run's metric records after `after_step` (train and eval), in step order."""
    rows = RunMetric.objects.filter(run=run, step__gt=after_step).order_by("step", "kind")
    return [
        {"step": step, "kind": kind, **data} for step, kind, data in rows.values_list("step", "kind", "data")
    ]


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
    try:
        with path.open("rb") as handle:
            if tail_bytes is not None:
                handle.seek(max(0, path.stat().st_size - tail_bytes))
            return handle.read().decode("utf-8", errors="replace")
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


def generation_list(*, project: Project) -> QuerySet[GenerationJob]:
    """The project's generation jobs, newest first."""
    return GenerationJob.objects.filter(project=project).select_related("model_version", "created_by")


def generation_get(*, project: Project, job_id: int) -> GenerationJob:
    """The project's job with this id; raises NotFound."""
    job = generation_list(project=project).filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"No generation {job_id} in this project.")
    return job


def arena_list(*, project: Project) -> QuerySet[Arena]:
    """The project's arenas, newest first, with their contestants' jobs."""
    return (
        Arena.objects.filter(project=project)
        .select_related("created_by")
        .prefetch_related("generation_jobs__model_version")
    )


def arena_get(*, project: Project, arena_id: int) -> Arena:
    """The project's arena with this id; raises NotFound."""
    arena = arena_list(project=project).filter(pk=arena_id).first()
    if arena is None:
        raise NotFound(f"No arena {arena_id} in this project.")
    return arena
