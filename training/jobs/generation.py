"""Executing a generation job on a worker (training.jobs.executor): each prompt whose k samples have
arrived becomes candidates and, per the project's mode, comparisons of the job's round. A contestant of an
arena builds no comparisons: it records which candidates it wrote, and its end queues the arena's build."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from annotation.models import Candidate, Prompt
from annotation.services.import_formats import candidate_content_hash
from annotation.services.importing import comparisons_build
from training.jobs.executor import JobExecution, job_execute
from training.models import ArenaEntry, GenerationJob
from training.services.generation import API_KEY_ENV, arena_build_queue


def _engine_spec(job: GenerationJob, output: Path) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "prompts_file": str(output / "prompts.jsonl"),
        "output_file": str(output / "samples.jsonl"),
        "k": job.k,
        "temperature": job.temperature,
        "top_p": job.top_p,
        "max_new_tokens": job.max_new_tokens,
        "batch_size": job.batch_size,
        "seed": job.seed,
    }
    if job.source == GenerationJob.Source.ENDPOINT:
        spec["endpoint"] = {
            "base_url": job.endpoint_base_url,
            "model": job.endpoint_model,
            "api_key_env": API_KEY_ENV,
        }
    else:
        spec["model"] = job.model_version.path if job.model_version_id else job.base_model
    return spec


class GenerationExecution(JobExecution):
    model = GenerationJob
    label = "generation"
    command = "generate"
    output_file = "samples.jsonl"
    job: GenerationJob

    def __init__(self, job: GenerationJob) -> None:
        super().__init__(job)
        self.collector = _Collector(job)

    @classmethod
    def job_get(cls, job_id: int) -> GenerationJob:
        return GenerationJob.objects.select_related("model_version", "project").get(pk=job_id)

    def prepare(self) -> None:
        prompts = (
            Prompt.objects.filter(pk__in=self.job.prompt_ids).order_by("id").values_list("id", "messages")
        )
        (self.output / "prompts.jsonl").write_text(
            "".join(json.dumps({"prompt_id": pk, "messages": messages}) + "\n" for pk, messages in prompts)
        )
        (self.output / "spec.json").write_text(json.dumps(_engine_spec(self.job, self.output), indent=2))

    def env(self) -> Mapping[str, str]:
        return {**os.environ, API_KEY_ENV: settings.RANKWISE_OPENAI_API_KEY}

    def records(self, records: list[dict[str, Any]]) -> None:
        self.collector.feed(records)

    def outcome(self, returncode: int) -> tuple[str, str]:
        job = self.job
        job.refresh_from_db()
        if returncode == 0 and job.prompt_errors and len(job.prompt_errors) >= job.prompts_total:
            return GenerationJob.Status.FAILED, "Every prompt failed; see the errors per prompt."
        return super().outcome(returncode)

    def finished(self, status: str, recorded: bool) -> None:
        arena_build_queue(self.job)


def generation_execute(*, job_id: int) -> None:
    """Runs a queued job to its end; does nothing for a job that is not queued (a redelivered task, a
    cancelled job), so the task is safe to run twice."""
    job_execute(GenerationExecution, job_id=job_id)


class _Collector:
    """Groups the engine's lines by prompt and ingests each prompt once it is complete."""

    def __init__(self, job: GenerationJob) -> None:
        self.job = job
        self.pending: dict[int, list[dict[str, Any]]] = {}

    def feed(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            prompt_id = record.get("prompt_id")
            if "error" in record:
                self.pending.pop(prompt_id, None)
                _prompt_error_record(self.job, prompt_id, str(record["error"]))
                continue
            samples = self.pending.setdefault(prompt_id, [])
            samples.append(record)
            if len(samples) >= self.job.k:
                _prompt_ingest(self.job, prompt_id, self.pending.pop(prompt_id))


def _prompt_error_record(job: GenerationJob, prompt_id: Any, error: str) -> None:
    with transaction.atomic():
        locked = GenerationJob.objects.select_for_update().get(pk=job.pk)
        locked.prompt_errors = [*locked.prompt_errors, {"prompt_id": prompt_id, "error": error}]
        locked.prompts_done += 1
        locked.save(update_fields=["prompt_errors", "prompts_done"])


def _prompt_ingest(job: GenerationJob, prompt_id: int, samples: list[dict[str, Any]]) -> None:
    """Creates the prompt's candidates (identical texts once) and their comparisons, of the job's round."""
    prompt = Prompt.objects.filter(pk=prompt_id, project=job.project).first()
    if prompt is None:  # deleted meanwhile
        _prompt_error_record(job, prompt_id, "The prompt no longer exists.")
        return
    with transaction.atomic():
        candidates, created, entries = [], 0, []
        for sample in samples:
            # PostgreSQL text cannot hold NUL, which a byte-level model can emit: stored as U+FFFD.
            text = str(sample["text"]).replace("\x00", "\ufffd")
            params = {
                **sample.get("params", {}),
                "k": job.k,
                "sample": sample["sample"],
                "generation_job": job.pk,
            }
            candidate, new = Candidate.objects.get_or_create(
                prompt=prompt,
                content_hash=candidate_content_hash(text),
                defaults={
                    "text": text,
                    "model_name": job.source_name[:255],
                    "generation_params": params,
                    "round": job.round,
                },
            )
            created += new
            if candidate not in candidates:
                candidates.append(candidate)
                entries.append(
                    ArenaEntry(arena_id=job.arena_id, job=job, candidate=candidate, sample=sample["sample"])
                )
        if job.arena_id is None:
            comparisons = comparisons_build(
                project=job.project, prompt=prompt, candidates=candidates, round=job.round
            )
        else:
            # Arena battles pair different contestants once all have generated (training.services.arenas).
            ArenaEntry.objects.bulk_create(entries, ignore_conflicts=True)
            comparisons = 0
        GenerationJob.objects.filter(pk=job.pk).update(
            prompts_done=F("prompts_done") + 1,
            candidates_created=F("candidates_created") + created,
            comparisons_created=F("comparisons_created") + comparisons,
        )
