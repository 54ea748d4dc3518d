"""Keeping Comparison.priority in step with the project's queue order (the rules: annotation.ordering).

The lease query already sorts by priority (index comparison_pool_order), so the order costs nothing
when items are handed out; these services recompute priorities when their inputs change instead: the
judging and importing services call them for new or edited judgments under the disagreement order,
training.scoring when scores arrive and when the setting changes. Gold items keep their priority.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from django.db import transaction

from annotation.models import Comparison, Judgment, Project
from annotation.ordering import disagreement_priority

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


def queue_disagreement_refresh(*, project: Project) -> int:
    """Recomputes every disagreement priority of the project; returns how many rows changed."""
    return comparison_priorities_write(project=project, priorities=disagreement_priorities(project=project))


def comparison_disagreement_update(*, comparison_id: int) -> None:
    """Recomputes one comparison's disagreement priority from its judgments, for the judging service.

    Needs the comparison's row lock held (judgment_submit holds it), so two judgments arriving together
    cannot each write a priority that misses the other."""
    orderings = Judgment.objects.filter(comparison_id=comparison_id).values_list("ordering", flat=True)
    Comparison.objects.filter(pk=comparison_id, gold_ordering__isnull=True).update(
        priority=disagreement_priority(list(orderings))
    )
