"""Read queries for scoring jobs and the reward model's report against the annotators."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import QuerySet

from annotation.models import Candidate, ComparisonCandidate, Judgment, Project
from annotation.quality.reward_agreement import Verdict, report_order, verdict
from rankwise.errors import NotFound
from training.models import (
    CandidateScore,
    ModelVersion,
    ScoringJob,
)


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
