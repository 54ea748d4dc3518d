"""Thin Celery tasks of the annotation app: take ids, call a service."""

from __future__ import annotations

from celery import shared_task

from annotation.services import assigning, prerendering, queueing


@shared_task(acks_late=True, ignore_result=True, time_limit=2 * 3600)
def queue_rerank(project_id: int) -> int:
    """Re-ranks a project's queue for its queue order (queued by a settings change); returns how
    many comparisons changed priority."""
    return queueing.queue_rerank(project_id=project_id)


@shared_task(ignore_result=True)
def leases_expire() -> int:
    """Marks the leases that ran out as expired (celery beat, every minute); returns how many."""
    return assigning.assignments_expire()


@shared_task(ignore_result=True)
def texts_prerender() -> int:
    """Stores the HTML of texts that have none yet, for at most prerendering.BUDGET_SECONDS (queued
    by an import, and by celery beat every minute); returns how many rows it rendered."""
    return prerendering.texts_prerender()
