"""Read queries for arenas and their standings."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from django.db.models import Count, Q, QuerySet

from annotation.models import Judgment, Project
from annotation.quality.bradley_terry import Outcome, head_to_head, leaderboard, outcomes_from_ordering
from annotation.quality.records import make_ordering
from rankwise.errors import NotFound
from training.models import (
    Arena,
    ArenaEntry,
)


def arena_list(*, project: Project) -> QuerySet[Arena]:
    """The project's arenas, newest first, with their contestants' jobs."""
    return (
        Arena.objects.filter(project=project)
        .select_related("project", "created_by")
        .prefetch_related("generation_jobs__model_version")
    )


def arena_get(*, project: Project, arena_id: int) -> Arena:
    """The project's arena with this id; raises NotFound."""
    arena = arena_list(project=project).filter(pk=arena_id).first()
    if arena is None:
        raise NotFound(f"No arena {arena_id} in this project.")
    return arena


def arena_outcomes(arena: Arena) -> tuple[list[str], list[Outcome]]:
    """The contestants' names (job order) and every battle outcome its judgments state (two queries
    after the arena's prefetched jobs)."""
    jobs = sorted(arena.generation_jobs.all(), key=lambda job: job.pk)
    names = {job.pk: job.source_name for job in jobs}
    writers: dict[int, list[int]] = {}
    for candidate_id, job_id in ArenaEntry.objects.filter(arena=arena).values_list("candidate_id", "job_id"):
        writers.setdefault(candidate_id, []).append(job_id)
    # A text two contestants both wrote belongs to neither (arena_comparisons_build leaves it out too).
    model_of = {c: names[jobs_[0]] for c, jobs_ in writers.items() if len(jobs_) == 1}
    outcomes = [
        outcome
        for ordering in Judgment.objects.filter(comparison__arenas=arena).values_list("ordering", flat=True)
        for outcome in outcomes_from_ordering(make_ordering(ordering), model_of)
    ]
    return list(names.values()), outcomes


def arena_standing(*, arena: Arena, rounds: int = 200, seed: int = 0) -> dict[str, Any]:
    """The arena's contestants (with their generation progress), counts, the Bradley–Terry
    leaderboard (bootstrap intervals from `rounds` resamples and `seed`) and the pairwise win matrix
    in leaderboard order, from the judgments so far."""
    names, outcomes = arena_outcomes(arena)
    board = [asdict(row) for row in leaderboard(outcomes, rounds=rounds, seed=seed)]
    record = head_to_head(outcomes)
    order = [row["model"] for row in board] + [n for n in names if n not in {r["model"] for r in board}]
    matrix = [
        {
            "model": a,
            "cells": [
                {"opponent": b, **record.get(a, {}).get(b, {"battles": 0, "win_rate": None})} for b in order
            ],
        }
        for a in order
    ]
    counts = arena.comparisons.aggregate(
        comparisons=Count("id"), judged=Count("id", filter=Q(judgment_count__gt=0))
    )
    entries = Counter(ArenaEntry.objects.filter(arena=arena).values_list("job_id", flat=True))
    return {
        "contestants": [
            {
                "name": job.source_name,
                "source": job.source,
                "model_version": job.model_version_id,
                "generation_job": job.pk,
                "status": job.status,
                "prompts_done": job.prompts_done,
                "prompts_total": job.prompts_total,
                "candidates": entries.get(job.pk, 0),
                "error": job.error,
            }
            for job in sorted(arena.generation_jobs.all(), key=lambda job: job.pk)
        ],
        "comparisons": counts["comparisons"],
        "judged_comparisons": counts["judged"],
        "battles": len(outcomes),
        "leaderboard": board,
        "matrix": matrix,
    }
