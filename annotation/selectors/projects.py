"""Read queries for the project admin pages (settings, members, imports)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet

from annotation.models import Comparison, ImportBatch, Membership, Project


def project_list_administered_by(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """Projects the user is an admin of; every project for superusers."""
    projects = Project.objects.order_by("name")
    if user.is_superuser:
        return projects
    return projects.filter(memberships__user=user, memberships__role=Membership.Role.ADMIN)


def membership_list(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")


def import_batch_list(*, project: Project, limit: int = 20) -> QuerySet[ImportBatch]:
    """The project's latest imports, newest first."""
    return project.import_batches.select_related("created_by").order_by("-created_at", "-id")[:limit]


@dataclass(frozen=True)
class QueueState:
    """How many of the project's regular comparisons its queue order ranks (priority above 0)."""

    order: str
    ranked: int
    comparisons: int


def queue_state(*, project: Project) -> QueueState:
    counts = Comparison.objects.filter(project=project, gold_ordering__isnull=True).aggregate(
        comparisons=Count("pk"), ranked=Count("pk", filter=Q(priority__gt=0))
    )
    return QueueState(order=project.queue_order, **counts)
