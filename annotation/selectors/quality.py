"""Read queries behind the quality dashboard: Judgment and Assignment rows → plain quality records.

One query per table, whatever the project's size: comparison slots (with model names, gold
orderings and rounds), judgments, skipped assignments, annotator names, membership attributes and
the comparisons per round. A project's quality thresholds are its own fields (project_thresholds).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import fields

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, QuerySet

from annotation.models import Assignment, Comparison, ComparisonCandidate, Judgment, Membership, Project
from annotation.quality.annotators import Thresholds
from annotation.quality.records import JudgmentRecord, make_ordering
from annotation.quality.report import QualityInputs, quality_report


def project_list_reviewed_by(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """Projects whose dashboard the user may open: reviewer or admin there, or any for superusers."""
    projects = Project.objects.order_by("name")
    if user.is_superuser:
        return projects
    roles = [Membership.Role.REVIEWER, Membership.Role.ADMIN]
    return projects.filter(memberships__user=user, memberships__role__in=roles).distinct()


def project_thresholds(*, project: Project) -> Thresholds:
    """The thresholds below which the project's annotators are flagged, from its settings."""
    return Thresholds(**{f.name: getattr(project, f.name) for f in fields(Thresholds)})


def quality_inputs_get(*, project: Project, round: int | None = None) -> QualityInputs:
    """The project's judgments as quality records, or only those on comparisons of `round`; six
    queries whatever the size (slots, judgments, skips, usernames, attributes, comparisons per round)."""
    of_round = {} if round is None else {"round": round}
    via_comparison = {} if round is None else {"comparison__round": round}
    slots: dict[int, list[int]] = defaultdict(list)
    models: dict[int, dict[int, str]] = defaultdict(dict)
    gold = {}
    comparison_rounds: dict[int, int] = {}
    for comparison_id, candidate_id, model_name, gold_ordering, comparison_round in (
        ComparisonCandidate.objects.filter(comparison__project=project, **via_comparison)
        .order_by("comparison_id", "position")
        .values_list(
            "comparison_id",
            "candidate_id",
            "candidate__model_name",
            "comparison__gold_ordering",
            "comparison__round",
        )
    ):
        slots[comparison_id].append(candidate_id)
        models[comparison_id][candidate_id] = model_name
        comparison_rounds[comparison_id] = comparison_round
        if gold_ordering is not None:
            gold[comparison_id] = make_ordering(gold_ordering)
    records = [
        JudgmentRecord(
            comparison_id=comparison_id,
            annotator_id=annotator_id,
            ordering=make_ordering(ordering),
            slots=tuple(slots[comparison_id]),
            presented_order=tuple(presented_order or ()),
            strength=strength,
            time_spent_ms=time_spent_ms,
            day=created_at.date().isoformat(),
            models=models[comparison_id],
        )
        for comparison_id, annotator_id, ordering, presented_order, strength, time_spent_ms, created_at in (
            Judgment.objects.filter(comparison__project=project, **via_comparison)
            .order_by("id")
            .values_list(
                "comparison_id",
                "annotator_id",
                "ordering",
                "presented_order",
                "strength",
                "time_spent_ms",
                "created_at",
            )
        )
    ]
    skips = dict(
        Assignment.objects.filter(
            comparison__project=project, status=Assignment.Status.SKIPPED, **via_comparison
        )
        .values("annotator_id")
        .annotate(n=Count("id"))
        .values_list("annotator_id", "n")
    )
    annotator_ids = {r.annotator_id for r in records if r.annotator_id is not None} | set(skips)
    usernames = dict(get_user_model().objects.filter(id__in=annotator_ids).values_list("id", "username"))
    attributes = {
        user_id: dict(values)
        for user_id, values in Membership.objects.filter(project=project)
        .exclude(attributes={})
        .values_list("user_id", "attributes")
    }
    comparisons_by_round = dict(
        Comparison.objects.filter(project=project, **of_round)
        .values("round")
        .annotate(n=Count("id"))
        .values_list("round", "n")
    )
    return QualityInputs(
        records=records,
        comparisons=sum(comparisons_by_round.values()),
        overlap=project.overlap,
        gold=gold,
        skips=skips,
        usernames=usernames,
        attributes=attributes,
        comparison_rounds=comparison_rounds,
        comparisons_by_round=comparisons_by_round,
    )


def project_quality_get(
    *, project: Project, rounds: int = 200, seed: int = 0, round: int | None = None
) -> dict:
    """The dashboard's report for a project under its own thresholds (or for the comparisons of one
    `round`), with the prompt text of its low-agreement comparisons (one more query, for those few
    comparisons only). `rounds` is the leaderboards' bootstrap resamples, not the project's rounds."""
    report = quality_report(
        quality_inputs_get(project=project, round=round),
        thresholds=project_thresholds(project=project),
        rounds=rounds,
        seed=seed,
    )
    ids = [row["comparison_id"] for row in report["low_agreement"]]
    prompts = dict(Comparison.objects.filter(pk__in=ids).values_list("pk", "prompt__messages"))
    for row in report["low_agreement"]:
        messages = prompts.get(row["comparison_id"]) or []
        row["prompt"] = messages[-1].get("content", "") if messages else ""
    return {
        "project": {"slug": project.slug, "name": project.name, "mode": project.mode},
        "round": round,
        **report,
    }
