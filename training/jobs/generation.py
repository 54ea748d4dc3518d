"""Executing a generation job on a worker: the engine's samples become candidates and comparisons."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from annotation.models import Candidate, Prompt
from annotation.services.import_formats import candidate_content_hash
from annotation.services.importing import comparisons_build
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
from training.models import ArenaEntry, GenerationJob
from training.services.engine import engine_command
from training.services.generation import API_KEY_ENV, arena_build_queue, generations_reap_stale

log = logging.getLogger(__name__)


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


def generation_execute(*, job_id: int) -> None:
    """Runs a queued job to its end; does nothing for a job that is not queued (a redelivered task, a
    cancelled job), so the task is safe to run twice."""
    generations_reap_stale()
    if not job_claim(job_model=GenerationJob, job_id=job_id):
        log.info("generation %s is not queued; nothing to do", job_id)
        return
    job = GenerationJob.objects.select_related("model_version", "project").get(pk=job_id)
    output = Path(job.output_dir)

    def prepare() -> None:
        prompts = Prompt.objects.filter(pk__in=job.prompt_ids).order_by("id").values_list("id", "messages")
        (output / "prompts.jsonl").write_text(
            "".join(json.dumps({"prompt_id": pk, "messages": messages}) + "\n" for pk, messages in prompts)
        )
        (output / "spec.json").write_text(json.dumps(_engine_spec(job, output), indent=2))

    try:
        process = engine_launch(
            label="generation",
            output=output,
            prepare=prepare,
            args=engine_command("generate", str(output / "spec.json")),
            log_path=output / "engine.log",
            env={**os.environ, API_KEY_ENV: settings.RANKWISE_OPENAI_API_KEY},
        )
    except EngineNotStarted as exc:
        _finish(job, GenerationJob.Status.FAILED, str(exc))
        return
    GenerationJob.objects.filter(pk=job.pk).update(pid=process.pid)
    status, error = _supervise(job, process, output)
    _finish(job, status, error)


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


def _supervise(job: GenerationJob, process: subprocess.Popen, output: Path) -> tuple[str, str]:
    collector = _Collector(job)
    outcome = engine_supervise(
        process=process,
        job_model=GenerationJob,
        job_id=job.pk,
        tail=JsonlTail(output / "samples.jsonl"),
        on_records=collector.feed,
    )
    if outcome.stopped_end:
        return outcome.stopped_end
    code = outcome.returncode
    job.refresh_from_db()
    if code == 0 and job.prompt_errors and len(job.prompt_errors) >= job.prompts_total:
        return GenerationJob.Status.FAILED, "Every prompt failed; see the errors per prompt."
    if code == 0:
        return GenerationJob.Status.SUCCEEDED, ""
    return engine_failure(exit_reason(code), output / "engine.log")


def _finish(job: GenerationJob, status: str, error: str) -> None:
    job_finish(job_model=GenerationJob, job_id=job.pk, status=status, error=error)
    arena_build_queue(job)
