"""Read queries behind the listing endpoints of the REST API (comparisons, demonstrations, audit)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from annotation.models import AuditEvent, Comparison, Demonstration, Project


def comparison_list(
    *,
    project: Project,
    round: int | None = None,
    gold: bool | None = None,
    min_judgments: int | None = None,
    max_judgments: int | None = None,
    prompt: str = "",
) -> QuerySet[Comparison]:
    """The project's comparisons in id order, with prompt and candidates, narrowed by the filters
    given (prompt matches the prompt's external id)."""
    comparisons = (
        Comparison.objects.filter(project=project)
        .select_related("prompt")
        .prefetch_related("slots__candidate")
        .order_by("id")
    )
    if round is not None:
        comparisons = comparisons.filter(round=round)
    if gold is not None:
        comparisons = comparisons.filter(gold_ordering__isnull=not gold)
    if min_judgments is not None:
        comparisons = comparisons.filter(judgment_count__gte=min_judgments)
    if max_judgments is not None:
        comparisons = comparisons.filter(judgment_count__lte=max_judgments)
    if prompt:
        comparisons = comparisons.filter(prompt__external_id=prompt)
    return comparisons


def demonstration_list(
    *, project: Project, annotator: AbstractBaseUser | None = None, annotator_username: str = ""
) -> QuerySet[Demonstration]:
    """The project's demonstrations, newest first; only `annotator`'s when given."""
    demonstrations = (
        Demonstration.objects.filter(prompt__project=project)
        .select_related("annotator", "prompt")
        .order_by("-created_at", "-id")
    )
    if annotator is not None:
        demonstrations = demonstrations.filter(annotator=annotator)
    if annotator_username:
        demonstrations = demonstrations.filter(annotator__username=annotator_username)
    return demonstrations


def audit_event_list(*, project: Project, action: str = "") -> QuerySet[AuditEvent]:
    """The project's audit trail, newest first."""
    events = AuditEvent.objects.filter(project=project).select_related("actor").order_by("-at", "-id")
    if action:
        events = events.filter(action=action)
    return events
