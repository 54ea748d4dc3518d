"""Scoring jobs: choosing candidates, launching and cancelling (execution: training.jobs.scoring)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotation.models import Candidate, Project
from rankwise.errors import invalid
from training.models import ModelVersion, ScoringJob
from training.selectors.runs import model_version_list
from training.services.dispatch import task_send_later
from training.services.jobs import job_cancel

LIMITS = {"batch_size": (1, 1024), "max_length": (8, 32768)}


# Ids per query when reading frozen candidate lists back: far below PostgreSQL's parameter limit.
ID_CHUNK = 5000


def scorings_root() -> Path:
    return Path(settings.DATA_DIR) / "scorings"


def id_chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), ID_CHUNK):
        yield ids[start : start + ID_CHUNK]


def _candidate_ids_select(
    *, project: Project, model_version: ModelVersion, selection: str, round: int | None
) -> list[int]:
    candidates = Candidate.objects.filter(prompt__project=project).order_by("id")
    if selection == ScoringJob.Selection.ROUND:
        candidates = candidates.filter(round=round)
    elif selection == ScoringJob.Selection.UNSCORED:
        candidates = candidates.exclude(scores__model_version=model_version)
    ids = list(candidates.values_list("id", flat=True))
    if not ids:
        raise invalid("selection", "no candidate of the project matches it")
    return ids


@dataclass(frozen=True)
class ScoringLaunchSpec:
    """What a scoring job is launched with (training.serializers.scoring_launch_input reads it from a
    request): the reward model version, which candidates (all, one round's, or those the version has
    not scored) and the batch and length limits."""

    model_version: ModelVersion | None
    selection: str = ScoringJob.Selection.ALL
    # Only with selection "round": the round whose candidates are scored.
    round: int | None = None
    batch_size: int = 16
    max_length: int = 1024


def scoring_launch(
    *, project: Project, created_by: AbstractBaseUser | None = None, spec: ScoringLaunchSpec
) -> ScoringJob:
    """Saves a queued job scoring the project's candidates with a reward model version of the
    project, and queues it on `gpu` once committed. The candidates are frozen now. Raises
    ValidationFailed naming the field."""
    model_version, selection, round = spec.model_version, spec.selection, spec.round
    if model_version is None or not model_version_list(project=project).filter(pk=model_version.pk).exists():
        raise invalid("model_version", "choose a model version of this project")
    if not model_version.is_reward_model:
        raise invalid("model_version", "is not a reward model")
    if selection not in ScoringJob.Selection.values:
        raise invalid("selection", f"one of {', '.join(ScoringJob.Selection.values)}")
    if selection == ScoringJob.Selection.ROUND and (round is None or round < 0):
        raise invalid("round", "name the round to score (a whole number >= 0)")
    for name, value in {"batch_size": spec.batch_size, "max_length": spec.max_length}.items():
        low, high = LIMITS[name]
        if not low <= value <= high:
            raise invalid(name, f"must be from {low} to {high}")
    ids = _candidate_ids_select(
        project=project, model_version=model_version, selection=selection, round=round
    )
    with transaction.atomic():
        job = ScoringJob.objects.create(
            project=project,
            model_version=model_version,
            selection=selection,
            round=round if selection == ScoringJob.Selection.ROUND else None,
            batch_size=spec.batch_size,
            max_length=spec.max_length,
            candidate_ids=ids,
            candidates_total=len(ids),
            created_by=created_by,
        )
        job.output_dir = str(scorings_root() / f"{job.pk}-{uuid.uuid4().hex[:8]}")
        job.save(update_fields=["output_dir"])
        from training.tasks import scoring_execute

        task_send_later(row=job, task=scoring_execute, queue=job.queue)
    return job


def scoring_cancel(*, job: ScoringJob) -> ScoringJob:
    """Cancels a queued job at once; asks the worker to stop a running one (the scores stored so far stay).
    Raises Conflict for a finished job."""
    return job_cancel(job=job, label=f"Scoring {job.pk}")
