"""Keeping Comparison.priority in step with the queue order (the rules: annotation.quality.ordering).

The lease query already sorts by priority (index comparison_pool_order), so the order costs nothing
when items are handed out; these services recompute priorities when their inputs change instead: the
judging and importing services call them for new or edited judgments under the disagreement order,
training.services.scoring when scores arrive (both already in a transaction or a job of their own), and
project_update when the setting changes, through a Celery task: re-ranking a million comparisons
takes minutes, longer than a request may. Gold items keep their priority.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from django.db import transaction

from annotation.models import Candidate, Comparison, ComparisonCandidate, Judgment, Project
from annotation.quality.ordering import disagreement_priority, score_gap, uncertainty_priorities

WRITE_BATCH = 1000


def comparison_priorities_write(*, project: Project, priorities: Mapping[int, int]) -> int:
    """Sets the priority of every regular (not gold) comparison of the project: its value in
    `priorities`, 0 when absent. Writes only the rows that change, in batches that each commit on
    their own, so no claim waits long behind this; returns how many rows changed."""
    current = Comparison.objects.filter(project=project, gold_ordering__isnull=True).values_list(
        "pk", "priority"
    )
    changed = [
        Comparison(pk=pk, priority=priorities.get(pk, 0))
        for pk, priority in current.iterator(chunk_size=5000)
        if priorities.get(pk, 0) != priority
    ]
    for start in range(0, len(changed), WRITE_BATCH):
        with transaction.atomic():
            Comparison.objects.bulk_update(changed[start : start + WRITE_BATCH], ["priority"])
    return len(changed)


def disagreement_priorities(*, project: Project) -> dict[int, int]:
    """The disagreement priority of each regular comparison of the project with judgments."""
    orderings: dict[int, list] = defaultdict(list)
    judgments = Judgment.objects.filter(
        comparison__project=project, comparison__gold_ordering__isnull=True
    ).values_list("comparison_id", "ordering")
    for comparison_id, ordering in judgments.iterator(chunk_size=5000):
        orderings[comparison_id].append(ordering)
    return {pk: disagreement_priority(found) for pk, found in orderings.items()}


def comparison_disagreement_update(*, comparison_id: int) -> None:
    """Recomputes one comparison's disagreement priority from its judgments, for the judging service.

    Needs the comparison's row lock held (judgment_submit holds it), so two judgments arriving together
    cannot each write a priority that misses the other."""
    orderings = Judgment.objects.filter(comparison_id=comparison_id).values_list("ordering", flat=True)
    Comparison.objects.filter(pk=comparison_id, gold_ordering__isnull=True).update(
        priority=disagreement_priority(list(orderings))
    )


def queue_priorities_refresh(*, project: Project) -> int:
    """Recomputes Comparison.priority for the project's queue order: 0 everywhere for `default`, the
    disagreement of the judgments, or the uncertainty rank under the chosen reward model's scores
    (comparisons it has not fully scored get 0, after the ranked ones). Returns how many rows changed."""
    if project.queue_order == Project.QueueOrder.UNCERTAINTY and project.queue_model_version_id:
        gaps = comparison_score_gaps(project=project, model_version_id=project.queue_model_version_id)
        priorities = uncertainty_priorities(gaps)
    elif project.queue_order == Project.QueueOrder.DISAGREEMENT:
        priorities = disagreement_priorities(project=project)
    else:
        priorities = {}
    return comparison_priorities_write(project=project, priorities=priorities)


def queue_rerank_later(*, project: Project) -> None:
    """Re-ranks the project's queue in the background once the current transaction commits
    (annotation.tasks.queue_rerank on the default queue). Until it has, the queue keeps the order
    it had."""
    from annotation.tasks import queue_rerank as task

    transaction.on_commit(lambda: task.apply_async((project.pk,), queue="default"))


def queue_rerank(*, project_id: int) -> int:
    """Re-ranks the project's queue for its queue order as it stands now, and again while that
    order changed during the pass: two changes in a row queue two of these, and without the check
    the pass under the older order could finish last and stand. Returns how many rows changed."""
    changed = 0
    project = Project.objects.filter(pk=project_id).first()
    while project is not None:
        changed += queue_priorities_refresh(project=project)
        now = Project.objects.filter(pk=project_id).first()
        if now is None or queue_settings(now) == queue_settings(project):
            break
        project = now
    return changed


def queue_settings(project: Project) -> tuple[str, int | None]:
    """The settings that decide Comparison.priority (annotation.quality.ordering)."""
    return project.queue_order, project.queue_model_version_id


def comparison_score_gaps(*, project: Project, model_version_id: int) -> dict[int, float]:
    """The score gap (annotation.quality.ordering.score_gap) of each regular comparison of the project whose
    candidates the reward model version has all scored (its training.CandidateScore rows)."""
    slots: dict[int, list[int]] = defaultdict(list)
    regular = ComparisonCandidate.objects.filter(
        comparison__project=project, comparison__gold_ordering__isnull=True
    )
    for comparison_id, candidate_id in regular.values_list("comparison_id", "candidate_id").iterator(
        chunk_size=5000
    ):
        slots[comparison_id].append(candidate_id)
    scores = dict(
        Candidate.objects.filter(prompt__project=project, scores__model_version_id=model_version_id)
        .values_list("pk", "scores__score")
        .iterator(chunk_size=5000)
    )
    return {
        pk: score_gap([scores[c] for c in candidates])
        for pk, candidates in slots.items()
        if len(candidates) >= 2 and all(c in scores for c in candidates)
    }
