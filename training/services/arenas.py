"""Arenas: blind pairwise battles between model versions (or base models) on held-out prompts.

`arena_launch` starts one generation job per contestant on the same frozen prompts, with the same
sampling parameters (and a seed of its own). When the last of them ends, `arena_comparisons_build`
pairs the candidates of different contestants (never two of one contestant) into arena comparisons, which
annotators judge without model names whatever the project's setting. training.services.generation calls it
as each contestant's job finishes; the arena pages and celery beat call `arenas_refresh` for jobs
that ended without their worker (reaped). The leaderboard is read by training.selectors.arena_standing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotation.models import AuditEvent, Comparison, Project
from annotation.services.auditing import audit_record
from annotation.services.importing import comparison_pairs_build
from rankwise.errors import invalid
from training.models import Arena, ArenaEntry, GenerationJob, ModelVersion
from training.services.generation import GenerationLaunchSpec, generation_launch, prompt_ids_select
from training.services.storage import base_model_check

MAX_CONTESTANTS = 8


def project_current_round(*, project: Project) -> int:
    """The newest round that has comparisons in the project (0 before any)."""
    return Comparison.objects.filter(project=project).aggregate(n=Max("round"))["n"] or 0


@dataclass(frozen=True)
class ArenaLaunchSpec:
    """What an arena is launched with (training.serializers.arena_launch_input reads it from a
    request): the contestants, which prompts (as for generation: ids, a round, at most `limit`),
    the round of its battles (None: the project's current round) and the sampling parameters."""

    model_versions: Sequence[ModelVersion] = ()
    base_models: Sequence[str] = ()
    prompt_ids: Sequence[int] | None = None
    prompt_round: int | None = None
    limit: int | None = None
    round: int | None = None
    name: str = ""
    k: int = 1
    temperature: float = 0.7
    top_p: float = 1.0
    max_new_tokens: int = 128
    batch_size: int = 8
    seed: int = 0


def arena_launch(
    *, project: Project, created_by: AbstractBaseUser | None = None, spec: ArenaLaunchSpec
) -> Arena:
    """Saves an arena of two or more contestants (model versions that are not reward models, or base
    models) on the selected prompts and queues one generation job per contestant once committed, all
    with the same sampling parameters, the i-th contestant with seed `spec.seed + i`. Its battles
    are comparisons of spec.round (default: the project's current round). Raises ValidationFailed
    naming the field; then nothing is saved."""
    bases = list(dict.fromkeys(b.strip() for b in spec.base_models if b.strip()))
    for base in bases:
        base_model_check(value=base, field="base_models")
    versions = list({v.pk: v for v in spec.model_versions}.values())
    if any(v.is_reward_model for v in versions):
        raise invalid("model_versions", "a reward model scores answers, it does not write them")
    names = [v.name for v in versions] + bases
    if len(names) < 2:
        raise invalid("contestants", "choose at least two model versions or base models")
    if len(names) > MAX_CONTESTANTS:
        raise invalid("contestants", f"at most {MAX_CONTESTANTS}")
    if len(set(names)) != len(names):
        raise invalid(
            "contestants", "two contestants have the same name; the leaderboard could not tell them apart"
        )
    if spec.round is not None and spec.round < 0:
        raise invalid("round", "must be 0 or more")
    ids = prompt_ids_select(
        project=project, prompt_ids=spec.prompt_ids, prompt_round=spec.prompt_round, limit=spec.limit
    )
    round = project_current_round(project=project) if spec.round is None else spec.round
    sampling = GenerationLaunchSpec(
        k=spec.k,
        temperature=spec.temperature,
        top_p=spec.top_p,
        max_new_tokens=spec.max_new_tokens,
        batch_size=spec.batch_size,
        prompt_ids=ids,
        round=round,
    )
    with transaction.atomic():
        arena = Arena.objects.create(
            project=project,
            name=(spec.name.strip() or " vs ".join(names))[:200],
            round=round,
            prompt_ids=ids,
            created_by=created_by,
        )
        contestants = [replace(sampling, model_version=v) for v in versions] + [
            replace(sampling, base_model=b) for b in bases
        ]
        for i, contestant in enumerate(contestants):
            # Each contestant samples with its own seed (seed + its index): with one shared seed,
            # similar models draw the same tokens and write the same texts, which are no battle.
            generation_launch(
                project=project,
                created_by=created_by,
                spec=replace(contestant, seed=spec.seed + i),
                arena=arena,
            )
        audit_record(
            actor=created_by,
            action=AuditEvent.Action.ARENA_LAUNCH,
            project=project,
            target=f"arena {arena.pk}",
            details={
                "arena": arena.pk,
                "name": arena.name,
                "round": arena.round,
                "contestants": [job.source_name for job in arena.generation_jobs.order_by("id")],
                "prompts": len(arena.prompt_ids),
            },
        )
    return arena


def battle_pairs(candidates: Mapping[int, Sequence[int]]) -> list[tuple[int, int]]:
    """The battles on one prompt: `candidates` maps each contestant (in a stable order) to its
    candidate ids in sample order. Every two contestants meet sample for sample (the i-th of one
    against the i-th of the other, as far as both have samples); a contestant never meets itself.
    Slot order alternates from battle to battle, so no contestant always holds the first slot."""
    pairs = []
    for a, b in combinations(list(candidates), 2):
        for first, second in zip(candidates[a], candidates[b], strict=False):
            pairs.append((first, second) if len(pairs) % 2 == 0 else (second, first))
    return pairs


def arena_comparisons_build(*, arena: Arena) -> int:
    """Once every contestant's job has finished, pairs their candidates into the arena's comparisons
    (of arena.round, model names hidden) and moves it to judging; returns the comparisons it linked.

    Does nothing (returns 0) while a job is queued or running, or once the arena has left
    `generating`, so it is safe to call any number of times from anywhere. A candidate that two
    contestants both wrote (the same text) belongs to neither and is left out. An arena left with no
    battle (fewer than two contestants generated anything) is failed with the reason.
    """
    with transaction.atomic():
        # The row lock makes two contestants finishing at once build the battles only once.
        arena = Arena.objects.select_for_update().select_related("project").get(pk=arena.pk)
        if arena.status != Arena.Status.GENERATING:
            return 0
        jobs = list(arena.generation_jobs.order_by("id"))
        if not jobs or any(not job.is_finished for job in jobs):
            return 0
        entries = list(
            ArenaEntry.objects.filter(arena=arena)
            .order_by("candidate__prompt_id", "job_id", "sample", "candidate_id")
            .values_list("job_id", "candidate_id", "candidate__prompt_id")
        )
        writers = Counter(candidate for _, candidate, _ in entries)
        by_prompt: dict[int, dict[int, list[int]]] = defaultdict(lambda: {job.pk: [] for job in jobs})
        for job_id, candidate, prompt_id in entries:
            if writers[candidate] == 1:
                by_prompt[prompt_id][job_id].append(candidate)
        pairs = [pair for prompt_id in sorted(by_prompt) for pair in battle_pairs(by_prompt[prompt_id])]
        if not pairs:
            failed = ", ".join(f"{job.source_name}: {job.status}" for job in jobs)
            arena.status = Arena.Status.FAILED
            arena.error = (
                f"No battle could be built: fewer than two contestants wrote distinct answers ({failed})."
            )
            arena.save(update_fields=["status", "error"])
            return 0
        ids = comparison_pairs_build(project=arena.project, pairs=pairs, round=arena.round)
        arena.comparisons.add(*ids)
        arena.status = Arena.Status.JUDGING
        arena.built_at = timezone.now()
        arena.save(update_fields=["status", "built_at"])
    return len(set(ids))


def arenas_refresh(*, project: Project | None = None) -> int:
    """Builds the battles of every generating arena (of the project, or all) whose jobs have all
    finished (beat calls it after reaping, for contestants whose worker died); returns how many it built."""
    waiting = Arena.objects.filter(status=Arena.Status.GENERATING).exclude(
        generation_jobs__status__in=[GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING]
    )
    if project is not None:
        waiting = waiting.filter(project=project)
    built = 0
    for arena in waiting:
        arena_comparisons_build(arena=arena)
        arena.refresh_from_db(fields=["status"])
        built += arena.status != Arena.Status.GENERATING
    return built
