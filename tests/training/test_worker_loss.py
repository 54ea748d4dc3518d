"""A whole Celery worker killed with SIGKILL in the middle of a run, as when its machine dies.

test_run_execution covers a killed engine and a killed pool process (the worker itself lives on);
here the worker's main process and its pool go at once. The engine must die with them, the run
must be marked failed rather than stay "running", a new worker must serve the queue (a snapshot
queued while no worker was up gets built), and a retry must resume from the last checkpoint.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from tests.conftest import CeleryWorker
from tests.factories import RunFactory
from tests.training.test_run_execution import (
    KILLED_RUN_STEPS,
    SLOW,
    checkpoint_saved,
    group_alive,
    launch,
    wait_for,
)
from tests.waiting import wait_until
from training.jobs.reaping import jobs_reap_stale
from training.models import DatasetSnapshot, Run
from training.services.runs import run_retry
from training.services.snapshots import SnapshotSpec, snapshot_queue

pytestmark = [pytest.mark.integration, pytest.mark.training]


def test_a_worker_killed_mid_run_leaves_a_failed_run_that_resumes_on_a_new_worker(
    celery_worker_process: CeleryWorker, judged_snapshot, tiny_model
) -> None:
    project, _ = judged_snapshot
    run = launch(judged_snapshot, tiny_model, max_steps=KILLED_RUN_STEPS, save_steps=2, **SLOW)
    checkpoints = Path(run.output_dir) / "checkpoints"
    run = wait_for(run, lambda r: r.is_finished or checkpoint_saved(checkpoints))
    assert run.status == Run.Status.RUNNING
    engine = run.pid
    try:
        celery_worker_process.kill()
        wait_until(lambda: not group_alive(engine), what="the engine to die with its worker")
        # Nobody is left to finish the run: only its stale heartbeat tells (celery beat's reaper).
        run.refresh_from_db()
        assert run.status == Run.Status.RUNNING
        queued = snapshot_queue(spec=SnapshotSpec(name="while down", projects=[project], eval_fraction=0.25))
        wait_until(lambda: jobs_reap_stale(stale_after=timedelta(seconds=2)) == 1, what="a stale heartbeat")
        run.refresh_from_db()
        assert run.status == Run.Status.FAILED and "heartbeat" in run.error
        # The engine can be ahead of the metrics the worker had ingested: what it saved is the truth.
        saved = max(int(p.name.split("-")[-1]) for p in checkpoints.glob("checkpoint-*"))
        assert saved < KILLED_RUN_STEPS, "the run had finished its steps before the kill"
    finally:
        celery_worker_process.start()  # the queue keeps serving with a new worker

    def built() -> bool:
        queued.refresh_from_db()
        return queued.status != DatasetSnapshot.Status.BUILDING

    wait_until(built, what="the new worker to build the snapshot queued while none was up")
    assert queued.status == DatasetSnapshot.Status.READY, queued.error

    run_retry(run=run)
    run = wait_for(run, lambda r: r.is_finished)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.attempt == 2 and run.step == KILLED_RUN_STEPS
    records = [json.loads(line) for line in (Path(run.output_dir) / "metrics.jsonl").read_text().splitlines()]
    starts = [i for i, r in enumerate(records) if r.get("event") == "start"]
    assert len(starts) == 2
    resumed_first_step = next(r["step"] for r in records[starts[1] :] if "step" in r)
    assert 1 < resumed_first_step <= saved + 1, "the retry did not resume from the checkpoint"


def test_a_worker_that_starts_fails_the_runs_whose_worker_died(
    celery_worker_process: CeleryWorker, judged_snapshot
) -> None:
    project, snapshot = judged_snapshot
    stale = timezone.now() - timedelta(seconds=settings.RANKWISE_RUN_STALE_SECONDS + 60)
    run = RunFactory(project=project, snapshot=snapshot, status=Run.Status.RUNNING, heartbeat_at=stale)
    celery_worker_process.stop()
    celery_worker_process.start()  # reaps once at start, without waiting for beat
    run = wait_for(run, lambda r: r.is_finished)
    assert run.status == Run.Status.FAILED and "lost worker" in run.error
