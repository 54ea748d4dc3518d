"""Read queries for training pages and the API."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from django.db.models import Q, QuerySet

from annotation.models import Candidate, ComparisonCandidate, Judgment, Project
from annotation.quality.reward_agreement import Verdict, report_order, verdict
from rankwise.errors import NotFound
from training.models import (
    Arena,
    Artifact,
    CandidateScore,
    DatasetSnapshot,
    GenerationJob,
    ModelVersion,
    Run,
    RunMetric,
    ScoringJob,
)
from training.processes import file_tail


def snapshot_list(*, project: Project) -> QuerySet[DatasetSnapshot]:
    """Snapshots that include the project, newest first."""
    return (
        DatasetSnapshot.objects.filter(projects=project)
        .select_related("created_by")
        .prefetch_related("projects")
    )


def snapshot_get(*, project: Project, snapshot_id: int) -> DatasetSnapshot:
    snapshot = snapshot_list(project=project).filter(pk=snapshot_id).first()
    if snapshot is None:
        raise NotFound(f"No snapshot {snapshot_id} in project {project.name!r}.")
    return snapshot


def run_list(*, project: Project, status: str = "", method: str = "") -> QuerySet[Run]:
    runs = Run.objects.filter(project=project).select_related(
        "project", "snapshot", "launched_by", "base_version", "reward_version"
    )
    if status:
        runs = runs.filter(status=status)
    if method:
        runs = runs.filter(method=method)
    return runs


def run_get(*, project: Project, run_id: int) -> Run:
    run = run_list(project=project).filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"No run {run_id} in project {project.name!r}.")
    return run


def run_metrics(*, run: Run, after_step: int = -1) -> list[dict]:
    """The run's metric records after `after_step` (train and eval), in step order."""
    rows = RunMetric.objects.filter(run=run, step__gt=after_step).order_by("step", "kind")
    return [
        {"step": step, "kind": kind, **data} for step, kind, data in rows.values_list("step", "kind", "data")
    ]


def run_artifacts(*, run: Run) -> QuerySet[Artifact]:
    return Artifact.objects.filter(run=run)


def artifact_path(*, run: Run, artifact_id: int) -> Path:
    """The file of one of the run's artifacts; NotFound for another run's or a path outside output_dir."""
    artifact = Artifact.objects.filter(run=run, pk=artifact_id).first()
    output = Path(run.output_dir).resolve()
    path = (output / artifact.path).resolve() if artifact else None
    if path is None or not path.is_relative_to(output) or not path.is_file():
        raise NotFound(f"No artifact {artifact_id} for run {run.pk}.")
    return path


def run_text_file(*, run: Run, name: str, tail_bytes: int | None = None) -> str:
    """A text file of the run's output (the log, the model card), or its last `tail_bytes`; "" if absent."""
    if not run.output_dir:
        return ""
    path = Path(run.output_dir) / name
    if tail_bytes is not None:
        return file_tail(path, tail_bytes)
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        return ""


def run_result(*, run: Run) -> dict | None:
    """The engine's result.json (seconds, peak memory, final metrics, samples before/after), if written."""
    text = run_text_file(run=run, name="result.json")
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return None


def model_directory(*, run: Run) -> Path:
    """The run's final/ directory; NotFound until the run has produced one."""
    final = Path(run.output_dir) / "final"
    if run.status != Run.Status.SUCCEEDED or not run.output_dir or not final.is_dir():
        raise NotFound(f"Run {run.pk} has no trained model to download.")
    return final


def model_version_list(*, project: Project) -> QuerySet[ModelVersion]:
    """Model versions trained in the project, and those registered without a run (shared bases)."""
    return ModelVersion.objects.filter(Q(run__project=project) | Q(run__isnull=True)).select_related("run")


def generation_list(*, project: Project) -> QuerySet[GenerationJob]:
    """The project's generation jobs, newest first."""
    return GenerationJob.objects.filter(project=project).select_related("model_version", "created_by")


def generation_get(*, project: Project, job_id: int) -> GenerationJob:
    """The project's job with this id; raises NotFound."""
    job = generation_list(project=project).filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"No generation {job_id} in this project.")
    return job


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


def reward_version_list(*, project: Project) -> QuerySet[ModelVersion]:
    """The reward model versions a project may score with (and order its queue by)."""
    return model_version_list(project=project).filter(is_reward_model=True)


def scoring_list(*, project: Project) -> QuerySet[ScoringJob]:
    """The project's scoring jobs, newest first."""
    # candidate_ids (frozen at launch) can be megabytes: only the worker reads it.
    return (
        ScoringJob.objects.filter(project=project)
        .select_related("model_version", "created_by")
        .defer("candidate_ids")
    )


def scoring_get(*, project: Project, job_id: int) -> ScoringJob:
    """The project's scoring job with this id; raises NotFound."""
    job = scoring_list(project=project).filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"No scoring {job_id} in this project.")
    return job


def _slots_and_scores(
    *, project: Project, model_version_id: int
) -> tuple[dict[int, list[int]], dict[int, float]]:
    """Candidate ids per comparison (slot order), and the version's score per candidate of the project."""
    slots: dict[int, list[int]] = defaultdict(list)
    rows = ComparisonCandidate.objects.filter(comparison__project=project)
    for comparison_id, candidate_id in (
        rows.order_by("comparison_id", "position").values_list("comparison_id", "candidate_id").iterator(5000)
    ):
        slots[comparison_id].append(candidate_id)
    scores = dict(
        CandidateScore.objects.filter(model_version_id=model_version_id, candidate__prompt__project=project)
        .values_list("candidate_id", "score")
        .iterator(5000)
    )
    return slots, scores


@dataclass(frozen=True)
class ScoreRow:
    """One comparison of the score report: the verdict and what to show of it."""

    verdict: Verdict
    prompt: str
    candidates: list[dict]  # {"id", "text", "model_name", "score", "votes"} in slot order


@dataclass(frozen=True)
class ScoreReport:
    model_version: ModelVersion
    candidates: int  # of the project
    scored: int  # of those, scored by the version
    judged: int  # comparisons with judgments and every candidate scored
    compared: int  # of those, with a human choice
    agreements: int
    rows: list[ScoreRow]  # the first `limit` in reward_agreement.report_order

    @property
    def agreement_rate(self) -> float | None:
        return self.agreements / self.compared if self.compared else None

    @property
    def disagreements(self) -> int:
        return self.compared - self.agreements


def score_report(*, project: Project, model_version: ModelVersion, limit: int = 100) -> ScoreReport:
    """The version's verdicts on the project's judged comparisons beside the human choice: agreement rate,
    and the comparisons in report order (largest margin against the humans first), at most `limit` rows.
    For project admins only."""
    slots, scores = _slots_and_scores(project=project, model_version_id=model_version.pk)
    orderings: dict[int, list] = defaultdict(list)
    for comparison_id, ordering in (
        Judgment.objects.filter(comparison__project=project)
        .values_list("comparison_id", "ordering")
        .iterator(5000)
    ):
        orderings[comparison_id].append(ordering)
    verdicts = [
        verdict(comparison_id=pk, candidate_ids=candidates, scores=scores, orderings=orderings[pk])
        for pk, candidates in slots.items()
        if pk in orderings and len(candidates) >= 2 and all(c in scores for c in candidates)
    ]
    ordered = report_order(verdicts)
    shown = ordered[:limit]
    wanted = {c for v in shown for c in v.candidate_ids}
    texts = {
        pk: (text, model_name, messages)
        for pk, text, model_name, messages in Candidate.objects.filter(pk__in=wanted).values_list(
            "pk", "text", "model_name", "prompt__messages"
        )
    }
    rows = [
        ScoreRow(
            verdict=v,
            prompt=(texts[v.candidate_ids[0]][2] or [{"content": ""}])[-1]["content"],
            candidates=[
                {"id": c, "text": texts[c][0], "model_name": texts[c][1], "score": score, "votes": votes}
                for c, score, votes in zip(v.candidate_ids, v.scores, v.votes, strict=True)
            ],
        )
        for v in shown
    ]
    compared = [v for v in verdicts if v.human is not None]
    return ScoreReport(
        model_version=model_version,
        candidates=Candidate.objects.filter(prompt__project=project).count(),
        scored=len(scores),
        judged=len(verdicts),
        compared=len(compared),
        agreements=sum(1 for v in compared if v.agrees),
        rows=rows,
    )
