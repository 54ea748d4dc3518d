"""Thin Celery tasks: take ids, call a service. Engine jobs go to the `gpu` queue, the rest to `default`
(settings.CELERY_TASK_ROUTES)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from training.jobs import generation as generation_jobs
from training.jobs import runs as run_jobs
from training.jobs import scoring as scoring_jobs
from training.jobs.reaping import jobs_reap_stale, snapshots_reap_stale
from training.models import Arena
from training.services import arenas, dispatch, snapshots


# No time limit: a run lasts as long as its spec says (hours or days); cancel stops it, and a lost
# worker is caught by the heartbeat reaper.
@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_execute(run_id: int) -> None:
    """Executes a queued run; a redelivery of a run already claimed does nothing."""
    run_jobs.run_execute(run_id=run_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, time_limit=2 * 3600)
def snapshot_build(snapshot_id: int) -> None:
    """Writes a requested snapshot's files (sent to the `default` queue); does nothing once built."""
    snapshots.snapshot_build(snapshot_id=snapshot_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, time_limit=24 * 3600)
def generation_execute(job_id: int) -> None:
    """Executes a queued generation job (gpu queue for local models, default for an endpoint)."""
    generation_jobs.generation_execute(job_id=job_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True, time_limit=24 * 3600)
def scoring_execute(job_id: int) -> None:
    """Executes a queued scoring job on the gpu queue; a redelivery of a claimed job does nothing."""
    scoring_jobs.scoring_execute(job_id=job_id)


@shared_task(acks_late=True, ignore_result=True)
def arena_build(arena_id: int) -> int:
    """Builds an arena's battles once its last contestant has finished; a no-op before and after."""
    return arenas.arena_comparisons_build(arena=Arena.objects.get(pk=arena_id))


@shared_task(ignore_result=True)
def jobs_reap() -> int:
    """Fails the runs, generation and scoring jobs and snapshot builds whose worker died (stale
    heartbeat), then builds the battles of arenas whose last contestant that was; celery beat calls it
    every minute. Returns how many it failed."""
    reaped = jobs_reap_stale() + snapshots_reap_stale()
    arenas.arenas_refresh()
    return reaped


@shared_task(ignore_result=True)
def jobs_dispatch() -> int:
    """Sends the tasks of the jobs and snapshots whose dispatch failed (the broker was down when they
    were committed); celery beat calls it every minute. Returns how many the broker took."""
    return dispatch.undispatched_send()


@worker_ready.connect
def jobs_reap_at_start(sender: Any, **kwargs: Any) -> None:
    """A worker that starts may be the one that died: its jobs need not wait for beat's next minute."""
    jobs_reap.apply_async(queue="default")
