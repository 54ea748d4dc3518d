"""Generation jobs: launch and cancel (services), and their execution on a worker.

A job runs `python -m training.engine generate spec.json` through training.processes, like a run: in
its own process group, so cancelling kills the group. The supervisor tails the engine's output file;
each prompt whose k samples (or error line) have arrived becomes Candidates and, per the project's
mode, new Comparisons (annotation.services.importing.comparisons_build), all of the job's round.
A job of an arena (training.arenas) builds no comparisons: it records which candidates it wrote, and
its end lets the arena pair them with the other contestants'.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F

from annotation.models import Candidate, Project, Prompt
from annotation.services.import_formats import candidate_content_hash
from annotation.services.importing import comparisons_build
from rankwise.errors import invalid
from training.models import Arena, ArenaEntry, GenerationJob, ModelVersion
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

# The engine reads the endpoint's key from this variable of its environment, never from the spec file.
API_KEY_ENV = "RANKWISE_GENERATION_API_KEY"
LIMITS = {"k": (1, 16), "max_new_tokens": (1, 8192), "batch_size": (1, 256), "seed": (0, 2**31 - 1)}


def generations_root() -> Path:
    return Path(settings.DATA_DIR) / "generations"


def prompt_ids_select(
    *, project: Project, prompt_ids: Sequence[int] | None, prompt_round: int | None, limit: int | None
) -> list[int]:
    """Ids of the project's prompts (all, or those ids, and/or of that round; at most `limit`), in id
    order. Raises ValidationFailed when an id is of another project or nothing matches."""
    prompts = Prompt.objects.filter(project=project).order_by("id")
    if prompt_ids:
        wanted = set(prompt_ids)
        if prompts.filter(pk__in=wanted).count() != len(wanted):
            raise invalid("prompt_ids", "not all are prompts of this project")
        prompts = prompts.filter(pk__in=wanted)
    if prompt_round is not None:
        prompts = prompts.filter(round=prompt_round)
    ids = (
        list(prompts.values_list("id", flat=True))[:limit]
        if limit
        else list(prompts.values_list("id", flat=True))
    )
    if not ids:
        raise invalid("prompts", "no prompt of the project matches the selection")
    return ids


def generation_launch(
    *,
    project: Project,
    created_by: AbstractBaseUser | None = None,
    model_version: ModelVersion | None = None,
    base_model: str = "",
    endpoint_model: str = "",
    use_endpoint: bool = False,
    k: int = 2,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    seed: int = 0,
    prompt_ids: Sequence[int] | None = None,
    prompt_round: int | None = None,
    limit: int | None = None,
    round: int = 0,
    arena: Arena | None = None,
) -> GenerationJob:
    """Saves a queued job for exactly one source (a model version, a base model, or the configured
    endpoint) and queues it once committed: local models on `gpu`, the endpoint on `default`.
    The prompts (all of the project, or those ids / that round, at most `limit`) are frozen now.
    With `arena`, the job is one contestant of it (see training.arenas.arena_launch)."""
    base_model, endpoint_model = base_model.strip(), endpoint_model.strip()
    if sum([model_version is not None, bool(base_model), use_endpoint]) != 1:
        raise invalid("source", "choose exactly one of a model version, a base model and the endpoint")
    if use_endpoint:
        if not settings.RANKWISE_OPENAI_BASE_URL:
            raise invalid("source", "no endpoint is configured (RANKWISE_OPENAI_BASE_URL)")
        endpoint_model = endpoint_model or settings.RANKWISE_OPENAI_MODEL
        if not endpoint_model:
            raise invalid("endpoint_model", "name the endpoint's model (or set RANKWISE_OPENAI_MODEL)")
    for name, value in {
        "k": k,
        "max_new_tokens": max_new_tokens,
        "batch_size": batch_size,
        "seed": seed,
    }.items():
        low, high = LIMITS[name]
        if not low <= value <= high:
            raise invalid(name, f"must be from {low} to {high}")
    if not 0.0 <= temperature <= 5.0:
        raise invalid("temperature", "must be from 0 to 5")
    if not 0.0 < top_p <= 1.0:
        raise invalid("top_p", "must be above 0 and at most 1")
    ids = prompt_ids_select(project=project, prompt_ids=prompt_ids, prompt_round=prompt_round, limit=limit)
    source = (
        GenerationJob.Source.ENDPOINT
        if use_endpoint
        else GenerationJob.Source.VERSION
        if model_version
        else GenerationJob.Source.BASE
    )
    with transaction.atomic():
        job = GenerationJob.objects.create(
            project=project,
            source=source,
            model_version=model_version,
            base_model=base_model,
            endpoint_model=endpoint_model if use_endpoint else "",
            endpoint_base_url=settings.RANKWISE_OPENAI_BASE_URL if use_endpoint else "",
            k=k,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            seed=seed,
            prompt_ids=ids,
            prompts_total=len(ids),
            round=round,
            arena=arena,
            queue="default" if use_endpoint else "gpu",
            created_by=created_by,
        )
        job.output_dir = str(generations_root() / f"{job.pk}-{uuid.uuid4().hex[:8]}")
        job.save(update_fields=["output_dir"])
        from training.tasks import generation_execute

        transaction.on_commit(lambda: generation_execute.apply_async((job.pk,), queue=job.queue))
    return job


def generation_cancel(*, job: GenerationJob) -> GenerationJob:
    """Cancels a queued job at once; asks the worker to stop a running one (what is already turned into
    candidates stays). Raises Conflict for a finished job."""
    job = job_cancel(job=job, label=f"Generation {job.pk}")
    if job.is_finished:  # cancelled before it started: an arena waiting for it may build its battles
        _arena_notify(job)
    return job


def generations_reap_stale() -> int:
    """Marks running jobs whose heartbeat stopped (their worker died) failed; returns how many."""
    return jobs_reap_stale(
        job_model=GenerationJob,
        error="The worker stopped reporting (lost worker); generated prompts are kept.",
    )


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


def _arena_notify(job: GenerationJob) -> None:
    """A finished contestant may be the arena's last one: let it build its battles (a no-op until
    every contestant has finished, and once built)."""
    if job.arena_id is None:
        return
    from training.arenas import arena_comparisons_build  # arenas launches jobs through this module

    arena_comparisons_build(arena=Arena.objects.get(pk=job.arena_id))


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
            # Arena battles pair different contestants once all have generated (training.arenas).
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
    _arena_notify(job)
