"""Read queries for generation jobs."""

from __future__ import annotations

from django.db.models import QuerySet

from annotation.models import Project
from rankwise.errors import NotFound
from training.models import (
    GenerationJob,
)


def generation_list(*, project: Project) -> QuerySet[GenerationJob]:
    """The project's generation jobs, newest first."""
    return GenerationJob.objects.filter(project=project).select_related("model_version", "created_by")


def generation_get(*, project: Project, job_id: int) -> GenerationJob:
    """The project's job with this id; raises NotFound."""
    job = generation_list(project=project).filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"No generation {job_id} in this project.")
    return job
