"""Generation jobs: choosing prompts, launching and cancelling (execution: training.jobs.generation)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotation.models import Project, Prompt
from rankwise.errors import invalid
from training.models import Arena, GenerationJob, ModelVersion
from training.services.dispatch import task_send_later
from training.services.jobs import job_cancel
from training.services.storage import base_model_check

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


@dataclass(frozen=True)
class GenerationLaunchSpec:
    """What a generation job is launched with (training.serializers.generation_launch_input reads it
    from a request): one source (a model version, a base model, or the configured endpoint), the
    sampling parameters, and which prompts (all of the project, or those ids / that round, at most
    `limit`); its candidates are of `round`."""

    model_version: ModelVersion | None = None
    base_model: str = ""
    endpoint_model: str = ""
    use_endpoint: bool = False
    k: int = 2
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 128
    batch_size: int = 8
    seed: int = 0
    prompt_ids: Sequence[int] | None = None
    prompt_round: int | None = None
    limit: int | None = None
    round: int = 0


def generation_launch(
    *,
    project: Project,
    created_by: AbstractBaseUser | None = None,
    spec: GenerationLaunchSpec,
    arena: Arena | None = None,
) -> GenerationJob:
    """Saves a queued job for exactly one source (a model version, a base model, or the configured
    endpoint) and queues it once committed: local models on `gpu`, the endpoint on `default`.
    The prompts are frozen now. With `arena`, the job is one contestant of it (see
    training.services.arenas.arena_launch). Raises ValidationFailed naming the field."""
    model_version, use_endpoint = spec.model_version, spec.use_endpoint
    base_model, endpoint_model = spec.base_model.strip(), spec.endpoint_model.strip()
    if sum([model_version is not None, bool(base_model), use_endpoint]) != 1:
        raise invalid("source", "choose exactly one of a model version, a base model and the endpoint")
    if base_model:
        base_model_check(value=base_model, field="base_model")
    if use_endpoint:
        if not settings.RANKWISE_OPENAI_BASE_URL:
            raise invalid("source", "no endpoint is configured (RANKWISE_OPENAI_BASE_URL)")
        endpoint_model = endpoint_model or settings.RANKWISE_OPENAI_MODEL
        if not endpoint_model:
            raise invalid("endpoint_model", "name the endpoint's model (or set RANKWISE_OPENAI_MODEL)")
    for name, value in {
        "k": spec.k,
        "max_new_tokens": spec.max_new_tokens,
        "batch_size": spec.batch_size,
        "seed": spec.seed,
    }.items():
        low, high = LIMITS[name]
        if not low <= value <= high:
            raise invalid(name, f"must be from {low} to {high}")
    if not 0.0 <= spec.temperature <= 5.0:
        raise invalid("temperature", "must be from 0 to 5")
    if not 0.0 < spec.top_p <= 1.0:
        raise invalid("top_p", "must be above 0 and at most 1")
    ids = prompt_ids_select(
        project=project, prompt_ids=spec.prompt_ids, prompt_round=spec.prompt_round, limit=spec.limit
    )
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
            k=spec.k,
            temperature=spec.temperature,
            top_p=spec.top_p,
            max_new_tokens=spec.max_new_tokens,
            batch_size=spec.batch_size,
            seed=spec.seed,
            prompt_ids=ids,
            prompts_total=len(ids),
            round=spec.round,
            arena=arena,
            queue="default" if use_endpoint else "gpu",
            created_by=created_by,
        )
        job.output_dir = str(generations_root() / f"{job.pk}-{uuid.uuid4().hex[:8]}")
        job.save(update_fields=["output_dir"])
        from training.tasks import generation_execute

        task_send_later(row=job, task=generation_execute, queue=job.queue)
    return job


def generation_cancel(*, job: GenerationJob) -> GenerationJob:
    """Cancels a queued job at once; asks the worker to stop a running one (what is already turned into
    candidates stays). Raises Conflict for a finished job."""
    job = job_cancel(job=job, label=f"Generation {job.pk}")
    if job.is_finished:  # cancelled before it started: an arena waiting for it may build its battles
        arena_build_queue(job)
    return job


def arena_build_queue(job: GenerationJob) -> None:
    """A finished contestant may be its arena's last one: queue the arena's battle build once this
    transaction commits (the build is a no-op until every contestant has finished, and once built).
    Queued rather than called, so generation does not import the arenas that launch it."""
    if job.arena_id is None:
        return
    from training.tasks import arena_build

    arena_id = job.arena_id
    transaction.on_commit(lambda: arena_build.apply_async((arena_id,), queue="default"))
