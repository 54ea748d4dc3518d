"""Read queries behind the rounds page: each round's counts, progress, agreement, snapshots, runs,
model versions, its policy's win rate, and the defaults of the current round's forms.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from annotation.models import Candidate, Comparison, Project, Prompt
from annotation.quality.bradley_terry import head_to_head
from annotation.quality.report import round_figures
from annotation.selectors.quality import quality_inputs_get
from training.models import Arena, DatasetSnapshot, Method, ModelVersion, Run
from training.selectors.arenas import arena_list, arena_outcomes
from training.selectors.runs import run_list
from training.selectors.snapshots import snapshot_list

POLICY_METHODS = (Method.SFT, Method.DPO, Method.PPO, Method.RLOO)


def _head_to_head_rate(arenas: list[Arena], new: str, previous: str) -> dict[str, Any] | None:
    """`new`'s record against `previous` in the newest arena where they met, or None."""
    for arena in arenas:
        names = {job.source_name for job in arena.generation_jobs.all()}
        if not {new, previous} <= names:
            continue
        cell = head_to_head(arena_outcomes(arena)[1]).get(new, {}).get(previous)
        if cell:
            return {"arena": arena.pk, **cell}
    return None


def rounds_overview(*, project: Project) -> dict[str, Any]:
    """Every round of the project, oldest first, and the project's current round (the newest with
    comparisons) with what its steps start from.

    Per round: prompt, candidate, comparison and judgment counts, open comparisons (fewer judgments
    than the overlap), progress and agreement of its judgments (annotation.quality), its snapshots,
    runs, model versions and arenas, and its policy (the newest trained non-reward model version of
    the round) with its win rate against the model it was trained from, from the newest arena where
    both met.
    """
    quality = quality_inputs_get(project=project)
    figures = {row["round"]: row for row in round_figures(quality)}
    prompts = dict(
        Prompt.objects.filter(project=project)
        .values("round")
        .annotate(n=Count("id"))
        .values_list("round", "n")
    )
    candidates = dict(
        Candidate.objects.filter(prompt__project=project)
        .values("round")
        .annotate(n=Count("id"))
        .values_list("round", "n")
    )
    open_comparisons = dict(
        Comparison.objects.filter(project=project, judgment_count__lt=project.overlap)
        .values("round")
        .annotate(n=Count("id"))
        .values_list("round", "n")
    )
    snapshots = list(snapshot_list(project=project))
    runs = list(run_list(project=project).select_related("model_version"))
    arenas = list(arena_list(project=project))
    current = max(quality.comparisons_by_round, default=0)
    numbers = sorted(
        set(prompts)
        | set(candidates)
        | set(quality.comparisons_by_round)
        | {run.round for run in runs}
        | {n for snapshot in snapshots for n in snapshot.rounds}
        | {arena.round for arena in arenas}
        | {current, current + 1}
    )
    rounds = []
    for n in numbers:
        round_runs = [run for run in runs if run.round == n]
        versions = [run.model_version for run in round_runs if _version_of(run) is not None]
        policy_run = next(
            (run for run in round_runs if run.method in POLICY_METHODS and _version_of(run) is not None), None
        )
        policy = None
        if policy_run is not None:
            previous = policy_run.base_version.name if policy_run.base_version else policy_run.base_model
            policy = {
                "version": policy_run.model_version,
                "previous": previous,
                "against_previous": _head_to_head_rate(arenas, policy_run.model_version.name, previous),
            }
        figure = figures.get(n)
        rounds.append(
            {
                "round": n,
                "prompts": prompts.get(n, 0),
                "candidates": candidates.get(n, 0),
                "comparisons": quality.comparisons_by_round.get(n, 0),
                "open_comparisons": open_comparisons.get(n, 0),
                "judgments": figure["progress"]["judgments"] if figure else 0,
                "progress": figure["progress"] if figure else None,
                "agreement": figure["agreement"] if figure else None,
                "snapshots": [s for s in snapshots if n in s.rounds],
                "runs": round_runs,
                "model_versions": versions,
                "arenas": [arena for arena in arenas if arena.round == n],
                "policy": policy,
            }
        )
    return {
        "current": current,
        "next": current + 1,
        "rounds": rounds,
        **_step_defaults(current, runs, snapshots),
    }


def _version_of(run: Run) -> ModelVersion | None:
    try:
        return run.model_version
    except ModelVersion.DoesNotExist:
        return None


def _step_defaults(current: int, runs: list[Run], snapshots: list[DatasetSnapshot]) -> dict[str, Any]:
    """What the current round's steps start from: the newest policy of any round up to it (the
    model that generates the next round and that training continues from), the current round's
    newest ready snapshot of that round alone (or else including it) and its newest reward model."""
    trained = [run for run in runs if _version_of(run) is not None and run.round <= current]
    policy = next((run.model_version for run in trained if run.method in POLICY_METHODS), None)
    reward = next(
        (run.model_version for run in trained if run.method == Method.REWARD and run.round == current), None
    )
    ready = [s for s in snapshots if s.status == DatasetSnapshot.Status.READY and current in s.rounds]
    snapshot = next((s for s in ready if s.rounds == [current]), ready[0] if ready else None)
    # The arena pits the current round's policy against the model it was trained from.
    policy_run = next((run for run in trained if run.method in POLICY_METHODS and run.round == current), None)
    return {
        "policy": policy,
        "reward_version": reward,
        "snapshot": snapshot,
        "arena_new": policy_run.model_version if policy_run else None,
        "arena_previous": (policy_run.base_version or policy_run.base_model) if policy_run else None,
    }
