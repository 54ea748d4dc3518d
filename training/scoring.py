"""Scoring jobs: a reward model version's scores of a project's candidates, and the queue order they feed.

Launch and cancel (services); execution on a `gpu` worker, which runs `python -m training.engine score
spec.json` through training.processes (own process group, heartbeat, cancel) and stores each score line
as a CandidateScore as it arrives, then re-ranks the queue when the project orders it by this model's
uncertainty (annotation.services.queueing). Scores are for project admins only: the scores page
and API show them, nothing annotators see includes them.
"""

from __future__ import annotations

import json
import logging
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotation.models import Candidate, Project
from annotation.services.queueing import queue_priorities_refresh
from rankwise.errors import invalid
from training import selectors
from training.models import CandidateScore, ModelVersion, ScoringJob
from training.processes import (
    EngineNotStarted,
    JsonlTail,
    engine_failure,
    engine_launch,
    engine_supervise,
    exit_reason,
    job_cancel,
    job_claim,
    job_finish,
    jobs_reap_stale,
)
from training.services import engine_command

log = logging.getLogger(__name__)

LIMITS = {"batch_size": (1, 1024), "max_length": (8, 32768)}
# Ids per query when reading frozen candidate lists back: far below PostgreSQL's parameter limit.
ID_CHUNK = 5000


def scorings_root() -> Path:
    return Path(settings.DATA_DIR) / "scorings"


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
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


def scoring_launch(
    *,
    project: Project,
    model_version: ModelVersion | None,
    selection: str = ScoringJob.Selection.ALL,
    round: int | None = None,
    batch_size: int = 16,
    max_length: int = 1024,
    created_by: AbstractBaseUser | None = None,
) -> ScoringJob:
    """Saves a queued job scoring the project's candidates (all, one round's, or those this version has
    not scored) with a reward model version of the project, and queues it on `gpu` once committed. The
    candidates are frozen now. Raises ValidationFailed naming the field."""
    if (
        model_version is None
        or not selectors.model_version_list(project=project).filter(pk=model_version.pk).exists()
    ):
        raise invalid("model_version", "choose a model version of this project")
    if not model_version.is_reward_model:
        raise invalid("model_version", "is not a reward model")
    if selection not in ScoringJob.Selection.values:
        raise invalid("selection", f"one of {', '.join(ScoringJob.Selection.values)}")
    if selection == ScoringJob.Selection.ROUND and (round is None or round < 0):
        raise invalid("round", "name the round to score (a whole number >= 0)")
    for name, value in {"batch_size": batch_size, "max_length": max_length}.items():
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
            batch_size=batch_size,
            max_length=max_length,
            candidate_ids=ids,
            candidates_total=len(ids),
            created_by=created_by,
        )
        job.output_dir = str(scorings_root() / f"{job.pk}-{uuid.uuid4().hex[:8]}")
        job.save(update_fields=["output_dir"])
        from training.tasks import scoring_execute

        transaction.on_commit(lambda: scoring_execute.apply_async((job.pk,), queue=job.queue))
    return job


def scoring_cancel(*, job: ScoringJob) -> ScoringJob:
    """Cancels a queued job at once; asks the worker to stop a running one (the scores stored so far stay).
    Raises Conflict for a finished job."""
    return job_cancel(job=job, label=f"Scoring {job.pk}")


def scorings_reap_stale() -> int:
    """Marks running jobs whose heartbeat stopped (their worker died) failed; returns how many."""
    return jobs_reap_stale(
        job_model=ScoringJob, error="The worker stopped reporting (lost worker); the stored scores are kept."
    )


def scoring_execute(*, job_id: int) -> None:
    """Runs a queued job to its end; does nothing for a job that is not queued (a redelivered task, a
    cancelled job), so the task is safe to run twice."""
    scorings_reap_stale()
    if not job_claim(job_model=ScoringJob, job_id=job_id):
        log.info("scoring %s is not queued; nothing to do", job_id)
        return
    job = ScoringJob.objects.select_related("model_version", "project").get(pk=job_id)
    output = Path(job.output_dir)

    def prepare() -> None:
        written = 0
        with (output / "items.jsonl").open("w", encoding="utf-8") as items:
            for chunk in _chunks(job.candidate_ids):
                rows = (
                    Candidate.objects.filter(pk__in=chunk)
                    .order_by("id")
                    .values_list("id", "prompt__messages", "text")
                )
                for pk, messages, text in rows:
                    items.write(
                        json.dumps({"candidate_id": pk, "messages": messages, "completion": text}) + "\n"
                    )
                    written += 1
                # A large project takes a while to write out: the job is alive, not lost.
                ScoringJob.objects.filter(pk=job.pk, status=ScoringJob.Status.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
        # Candidates deleted since the launch are not scored, nor counted.
        ScoringJob.objects.filter(pk=job.pk).update(candidates_total=written)
        spec = {
            "model": job.model_version.path,
            "items_file": str(output / "items.jsonl"),
            "output_file": str(output / "scores.jsonl"),
            "batch_size": job.batch_size,
            "max_length": job.max_length,
        }
        (output / "spec.json").write_text(json.dumps(spec, indent=2))

    try:
        process = engine_launch(
            label="scoring",
            output=output,
            prepare=prepare,
            args=engine_command("score", str(output / "spec.json")),
            log_path=output / "engine.log",
        )
    except EngineNotStarted as exc:
        job_finish(job_model=ScoringJob, job_id=job.pk, status=ScoringJob.Status.FAILED, error=str(exc))
        return
    ScoringJob.objects.filter(pk=job.pk).update(pid=process.pid)
    status, error = _supervise(job, process, output)
    recorded = job_finish(job_model=ScoringJob, job_id=job.pk, status=status, error=error)
    project = Project.objects.get(pk=job.project_id)
    if (
        recorded
        and project.queue_order == Project.QueueOrder.UNCERTAINTY
        and project.queue_model_version_id == job.model_version_id
    ):
        queue_priorities_refresh(project=project)


def scores_store(*, job: ScoringJob, records: list[dict[str, Any]]) -> None:
    """Stores the engine's score lines as CandidateScores (a candidate scored again by the same version keeps
    the new score) and error lines in the job; counts both. Candidates deleted meanwhile are skipped."""
    scored = {r["candidate_id"]: r for r in records if "score" in r}
    errors = [
        {"candidate_id": r.get("candidate_id"), "error": str(r["error"])} for r in records if "error" in r
    ]
    existing = (
        set(Candidate.objects.filter(pk__in=list(scored)).values_list("pk", flat=True)) if scored else set()
    )
    rows = [
        CandidateScore(
            candidate_id=pk,
            model_version_id=job.model_version_id,
            score=float(scored[pk]["score"]),
            truncated=bool(scored[pk].get("truncated")),
            job=job,
        )
        for pk in existing
    ]
    with transaction.atomic():
        if rows:
            CandidateScore.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["model_version", "candidate"],
                update_fields=["score", "truncated", "job", "scored_at"],
            )
        if errors:
            locked = ScoringJob.objects.select_for_update().get(pk=job.pk)
            kept = ScoringJob.ITEM_ERRORS_KEPT - len(locked.item_errors)
            if kept > 0:
                locked.item_errors = [*locked.item_errors, *errors[:kept]]
                locked.save(update_fields=["item_errors"])
        if rows or errors:
            ScoringJob.objects.filter(pk=job.pk).update(
                candidates_scored=F("candidates_scored") + len(rows),
                candidates_failed=F("candidates_failed") + len(errors) + len(scored) - len(rows),
            )


def _supervise(job: ScoringJob, process: subprocess.Popen, output: Path) -> tuple[str, str]:
    outcome = engine_supervise(
        process=process,
        job_model=ScoringJob,
        job_id=job.pk,
        tail=JsonlTail(output / "scores.jsonl"),
        on_records=lambda records: scores_store(job=job, records=records) if records else None,
    )
    if outcome.stopped_end:
        return outcome.stopped_end
    job.refresh_from_db()
    if outcome.returncode == 0 and job.candidates_total and not job.candidates_scored:
        return ScoringJob.Status.FAILED, "Every candidate failed; see the errors per candidate."
    if outcome.returncode == 0:
        return ScoringJob.Status.SUCCEEDED, ""
    return engine_failure(exit_reason(outcome.returncode), output / "engine.log")
