"""What every engine job (training.models.EngineJob) shares on the service side: cancelling."""

from __future__ import annotations

from django.utils import timezone

from rankwise.errors import Conflict
from training.models import EngineJob, JobStatus


def job_cancel(*, job: EngineJob, label: str) -> EngineJob:
    """Cancels a queued job at once; asks the worker to stop a running one (it kills the engine's process
    group within seconds). Raises Conflict for a finished job; `label` names it ("Run 3")."""
    jobs = type(job).objects.filter(pk=job.pk)
    cancelled = jobs.filter(status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, cancel_requested=True, finished_at=timezone.now()
    )
    if cancelled:
        job.refresh_from_db()
        return job
    if not jobs.filter(status=JobStatus.RUNNING).update(cancel_requested=True):
        job.refresh_from_db()
        raise Conflict(f"{label} is already {job.status}.")
    job.refresh_from_db()
    return job
