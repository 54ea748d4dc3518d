"""Thin Celery tasks: take ids, call a service. Runs go to the `gpu` queue (settings.CELERY_TASK_ROUTES)."""

from __future__ import annotations

from celery import shared_task

from training.jobs import generation as generation_jobs
from training.jobs import runs as run_jobs
from training.jobs import scoring as scoring_jobs
from training.models import Arena
from training.services import arenas, scoring, snapshots
from training.services import runs as run_services


# No time limit: a run lasts as long as its spec says (hours or days); cancel stops it, and a lost
# worker is caught by the heartbeat reaper.
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_execute(run_id: int) -> None:
    """Executes a queued run; a redelivery of a run already claimed does nothing."""
    run_jobs.run_execute(run_id=run_id)


@shared_task(ignore_result=True)
def runs_reap() -> int:
    """Marks runs with a stale heartbeat failed (celery beat calls it every minute)."""
    return run_services.runs_reap_stale()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, time_limit=2 * 3600)
def snapshot_build(snapshot_id: int) -> None:
    """Writes a requested snapshot's files (sent to the `default` queue); does nothing once built."""
    snapshots.snapshot_build(snapshot_id=snapshot_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, time_limit=24 * 3600)
def generation_execute(job_id: int) -> None:
    """Executes a queued generation job (gpu queue for local models, default for an endpoint)."""
    generation_jobs.generation_execute(job_id=job_id)


@shared_task(acks_late=True, ignore_result=True)
def arena_build(arena_id: int) -> int:
    """Builds an arena's battles once its last contestant has finished; a no-op before and after."""
    return arenas.arena_comparisons_build(arena=Arena.objects.get(pk=arena_id))


@shared_task(ignore_result=True)
def generations_reap() -> int:
    """Marks generation jobs with a stale heartbeat failed (celery beat calls it every minute), then
    builds the battles of arenas whose last job that was; returns how many arenas it built."""
    return arenas.arenas_refresh()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, time_limit=24 * 3600)
def scoring_execute(job_id: int) -> None:
    """Executes a queued scoring job on the gpu queue; a redelivery of a claimed job does nothing."""
    scoring_jobs.scoring_execute(job_id=job_id)


@shared_task(ignore_result=True)
def scorings_reap() -> int:
    """Marks scoring jobs with a stale heartbeat failed (celery beat calls it every minute)."""
    return scoring.scorings_reap_stale()
