"""Failing the engine jobs and snapshot builds whose worker died: their heartbeat went stale.

Celery beat calls `jobs_reap_stale` every minute and each worker once at start
(training.tasks.jobs_reap); pages and the API only read. A job's supervisor beats every couple of
seconds while the engine runs, so a heartbeat older than RANKWISE_RUN_STALE_SECONDS means nobody is
watching the job any more.
"""

from __future__ import annotations

import shutil
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from training.models import DatasetSnapshot, EngineJob, GenerationJob, JobStatus, Run, ScoringJob
from training.services.storage import snapshots_root

# What a reaped job of each kind keeps, after "No heartbeat for N s: the worker running it stopped."
KEPT = {
    Run: "Retry resumes from its newest checkpoint.",
    GenerationJob: "Generated prompts are kept.",
    ScoringJob: "The stored scores are kept.",
}


def jobs_reap_stale(
    *, stale_after: timedelta | None = None, job_models: tuple[type[EngineJob], ...] = tuple(KEPT)
) -> int:
    """Marks running jobs (of `job_models`) whose heartbeat is older than `stale_after` failed; returns
    how many. Safe to call from anywhere, any number of times."""
    stale_after = stale_after or timedelta(seconds=settings.RANKWISE_RUN_STALE_SECONDS)
    now = timezone.now()
    reaped = 0
    for job_model in job_models:
        error = (
            f"No heartbeat for {int(stale_after.total_seconds())} s: the worker running it stopped "
            f"(lost worker). {KEPT[job_model]}"
        )
        reaped += job_model.objects.filter(
            status=JobStatus.RUNNING, heartbeat_at__lt=now - stale_after
        ).update(status=JobStatus.FAILED, finished_at=now, error=error)
    return reaped


def snapshots_reap_stale(*, stale_after: timedelta | None = None) -> int:
    """Marks building snapshots whose builder's heartbeat is older than `stale_after` failed and removes
    their half-written files; returns how many. A snapshot no worker has claimed yet is left waiting."""
    stale_after = stale_after or timedelta(seconds=settings.RANKWISE_RUN_STALE_SECONDS)
    stale = DatasetSnapshot.objects.filter(
        status=DatasetSnapshot.Status.BUILDING, heartbeat_at__lt=timezone.now() - stale_after
    )
    error = (
        f"No heartbeat for {int(stale_after.total_seconds())} s: the worker building it stopped "
        "(lost worker). Nothing was kept; retry builds it again."
    )
    reaped = 0
    for pk in list(stale.values_list("pk", flat=True)):
        # Conditional: a builder that beat meanwhile keeps its snapshot.
        reaped += stale.filter(pk=pk).update(status=DatasetSnapshot.Status.FAILED, error=error)
        for partial in snapshots_root().glob(f".building-{pk}-*"):
            shutil.rmtree(partial, ignore_errors=True)
    return reaped
