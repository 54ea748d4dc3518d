"""Executing a scoring job on a worker (training.jobs.executor): the engine's scores become CandidateScore
rows as they arrive; a finished job re-ranks the queue when the project orders it by this model."""

from __future__ import annotations

import json
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotation.models import Candidate, Project
from annotation.services.queueing import queue_priorities_refresh
from training.jobs.executor import JobExecution, job_execute
from training.models import CandidateScore, ScoringJob
from training.services.scoring import id_chunks


class ScoringExecution(JobExecution):
    model = ScoringJob
    label = "scoring"
    command = "score"
    output_file = "scores.jsonl"
    job: ScoringJob

    @classmethod
    def job_get(cls, job_id: int) -> ScoringJob:
        return ScoringJob.objects.select_related("model_version", "project").get(pk=job_id)

    def prepare(self) -> None:
        job, output = self.job, self.output
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

    def records(self, records: list[dict[str, Any]]) -> None:
        if records:
            scores_store(job=self.job, records=records)

    def outcome(self, returncode: int) -> tuple[str, str]:
        job = self.job
        job.refresh_from_db()
        if returncode == 0 and job.candidates_total and not job.candidates_scored:
            return ScoringJob.Status.FAILED, "Every candidate failed; see the errors per candidate."
        return super().outcome(returncode)

    def finished(self, status: str, recorded: bool) -> None:
        project = Project.objects.get(pk=self.job.project_id)
        if (
            recorded
            and project.queue_order == Project.QueueOrder.UNCERTAINTY
            and project.queue_model_version_id == self.job.model_version_id
        ):
            queue_priorities_refresh(project=project)


def scoring_execute(*, job_id: int) -> None:
    """Runs a queued job to its end; does nothing for a job that is not queued (a redelivered task, a
    cancelled job), so the task is safe to run twice."""
    job_execute(ScoringExecution, job_id=job_id)


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
