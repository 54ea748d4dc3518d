"""Read queries for snapshots."""

from __future__ import annotations

from django.db.models import QuerySet

from annotation.models import Project
from rankwise.errors import NotFound
from training.models import (
    DatasetSnapshot,
)


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
