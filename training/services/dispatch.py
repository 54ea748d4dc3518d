"""Handing a job's task to the broker so that no job waits forever because the broker was down.

A row that a worker must pick up (a run, a generation or scoring job, a snapshot to build) is
committed first; its task is sent after the commit, and `dispatched_at` records that the broker took
it. A broker that is down at that moment leaves `dispatched_at` empty and the row stands, queued:
the door still answers with the row, and beat (training.tasks.jobs_dispatch) sends the task again
once the broker is back. The tasks claim their row with a conditional update, so a task sent twice
runs once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Task
from django.db import models, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from training.models import DatasetSnapshot, GenerationJob, JobStatus, Run, ScoringJob

log = logging.getLogger(__name__)

# How long a row may wait for its first dispatch (the commit's own) before beat sends it.
DISPATCH_GRACE = timedelta(seconds=60)


def task_send(*, row: models.Model, task: Task, queue: str) -> bool:
    """Sends the row's task now and records `dispatched_at`; False (logged) when the broker refused."""
    try:
        task.apply_async((row.pk,), queue=queue)
    except OperationalError as exc:  # kombu's word for a broker it cannot reach
        log.warning("could not queue %s %s (%s); beat sends it again", type(row).__name__, row.pk, exc)
        return False
    type(row).objects.filter(pk=row.pk).update(dispatched_at=timezone.now())
    return True


def task_send_later(*, row: models.Model, task: Task, queue: str) -> None:
    """task_send once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: task_send(row=row, task=task, queue=queue))


def undispatched_send() -> int:
    """Sends the tasks of the rows still waiting for theirs after DISPATCH_GRACE; returns how many the
    broker took. Safe to call from anywhere, any number of times."""
    from training import tasks

    before = timezone.now() - DISPATCH_GRACE
    waiting: list[tuple[models.QuerySet, Task]] = [
        (Run.objects.filter(status=JobStatus.QUEUED), tasks.run_execute),
        (GenerationJob.objects.filter(status=JobStatus.QUEUED), tasks.generation_execute),
        (ScoringJob.objects.filter(status=JobStatus.QUEUED), tasks.scoring_execute),
        (DatasetSnapshot.objects.filter(status=DatasetSnapshot.Status.BUILDING), tasks.snapshot_build),
    ]
    sent = 0
    for rows, task in waiting:
        for row in rows.filter(dispatched_at__isnull=True, created_at__lt=before):
            sent += task_send(row=row, task=task, queue=getattr(row, "queue", "default"))
    return sent
