"""Thin Celery tasks: take ids, call a service. Runs go to the `gpu` queue (settings.CELERY_TASK_ROUTES)."""

from __future__ import annotations

from celery import shared_task

from training import arenas, execution, generating, scoring, services


# No time limit: a run lasts as long as its spec says (hours or days); cancel stops it, and a lost
# worker is caught by the heartbeat reaper.
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_execute(run_id: int) -> None:
    """Executes a queued run; a redelivery of a run already claimed does nothing."""
    execution.run_execute(run_id=run_id)


@shared_task(ignore_result=True)
def runs_reap() -> int:
    """Marks runs with a stale heartbeat failed (celery beat calls it every minute)."""
    return services.runs_reap_stale()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, time_limit=2 * 3600)
def snapshot_build(snapshot_id: int) -> None:
    """Writes a requested snapshot's files (sent to the `default` queue); does nothing once built."""
    services.snapshot_build(snapshot_id=snapshot_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, time_limit=24 * 3600)
def generation_execute(job_id: int) -> None:
    """Executes a queued generation job (gpu queue for local models, default for an endpoint)."""
    generating.generation_execute(job_id=job_id)


@shared_task(ignore_result=True)
def generations_reap() -> int:
    """Marks generation jobs with a stale heartbeat failed (celery beat calls it every minute), then
    builds the battles of arenas whose last job that was; returns how many arenas it built."""
    return arenas.arenas_refresh()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, time_limit=24 * 3600)
def scoring_execute(job_id: int) -> None:
    """Executes a queued scoring job on the gpu queue; a redelivery of a claimed job does nothing."""
    scoring.scoring_execute(job_id=job_id)


@shared_task(ignore_result=True)
def scorings_reap() -> int:
    """Marks scoring jobs with a stale heartbeat failed (celery beat calls it every minute)."""
    return scoring.scorings_reap_stale()
