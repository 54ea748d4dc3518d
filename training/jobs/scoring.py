"""Executing a scoring job on a worker: the engine's scores become CandidateScore rows."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotation.models import Candidate, Project
from annotation.services.queueing import queue_priorities_refresh
from training.jobs.processes import (
    EngineNotStarted,
    JsonlTail,
    engine_failure,
    engine_launch,
    engine_supervise,
    exit_reason,
    job_claim,
    job_finish,
)
from training.models import CandidateScore, ScoringJob
from training.services.engine import engine_command
from training.services.scoring import id_chunks, scorings_reap_stale

log = logging.getLogger(__name__)


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
            for chunk in id_chunks(job.candidate_ids):
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
