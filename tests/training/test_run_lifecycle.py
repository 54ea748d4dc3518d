"""Run services that need no engine: cancel, retry, reaping stale runs, metrics ingestion."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from annotation.models import Project
from rankwise.errors import Conflict
from tests.factories import RunFactory, SnapshotFactory
from training.engine.jsonl import JsonlTail
from training.jobs.reaping import jobs_reap_stale
from training.jobs.runs import RunExecution
from training.models import DatasetSnapshot, ModelVersion, Run, RunMetric
from training.services.metrics import run_metrics_ingest
from training.services.runs import run_cancel, run_retry

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(project: Project) -> Run:
    snapshot = SnapshotFactory(name="s", status=DatasetSnapshot.Status.READY)
    snapshot.projects.set([project])
    return RunFactory(project=project, method="reward", base_model="tiny", snapshot=snapshot)


def test_cancel_queued_run_finishes_it_at_once(run: Run) -> None:
    run_cancel(run=run)
    assert run.status == Run.Status.CANCELLED and run.finished_at is not None


def test_cancel_running_run_asks_the_worker(run: Run) -> None:
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
    run_cancel(run=run)
    assert run.status == Run.Status.RUNNING and run.cancel_requested


def test_cancel_finished_run_conflicts(run: Run) -> None:
    Run.objects.filter(pk=run.pk).update(status=Run.Status.SUCCEEDED)
    with pytest.raises(Conflict):
        run_cancel(run=run)


def test_retry_requeues_failed_run_as_next_attempt(run: Run, django_capture_on_commit_callbacks) -> None:
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FAILED, error="boom", cancel_requested=True)
    run.refresh_from_db()
    with django_capture_on_commit_callbacks() as callbacks:
        run_retry(run=run)
    assert (run.status, run.attempt, run.error, run.cancel_requested) == (Run.Status.QUEUED, 2, "", False)
    assert len(callbacks) == 1


@pytest.mark.parametrize("status", [Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.SUCCEEDED])
def test_retry_refuses_runs_that_did_not_stop(run: Run, status: str) -> None:
    Run.objects.filter(pk=run.pk).update(status=status)
    with pytest.raises(Conflict):
        run_retry(run=run)
    run.refresh_from_db()
    assert run.attempt == 1


def test_reaper_fails_only_stale_running_runs(run: Run, project: Project) -> None:
    now = timezone.now()
    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, heartbeat_at=now - timedelta(minutes=5))
    fresh = RunFactory(
        project=project,
        method="reward",
        base_model="tiny",
        snapshot=run.snapshot,
        status=Run.Status.RUNNING,
        heartbeat_at=now,
    )
    assert jobs_reap_stale(stale_after=timedelta(seconds=60)) == 1
    run.refresh_from_db()
    fresh.refresh_from_db()
    assert run.status == Run.Status.FAILED and "heartbeat" in run.error
    assert fresh.status == Run.Status.RUNNING
    assert jobs_reap_stale(stale_after=timedelta(seconds=60)) == 0


def test_metrics_ingest_stores_steps_and_progress(run: Run) -> None:
    records = [
        {"event": "start", "method": "reward", "total_steps": 10, "time": 1.0},
        {"step": 2, "total_steps": 10, "loss": 0.7, "time": 2.0},
        {"step": 4, "total_steps": 10, "loss": 0.6, "time": 3.0},
        {"step": 4, "eval_loss": 0.65, "eval_rewards/accuracies": 0.5, "time": 3.1},
    ]
    assert run_metrics_ingest(run=run, records=records, clock=(timezone.now().timestamp() - 4.0, 0)) == 3
    run.refresh_from_db()
    assert (run.step, run.total_steps) == (4, 10)
    assert run.eta_seconds == pytest.approx(6.0, abs=1.0)
    assert list(run.metrics.values_list("step", "kind")) == [(2, "train"), (4, "eval"), (4, "train")]
    # A resumed attempt logs step 4 again: the new values replace the old, no duplicate rows.
    run_metrics_ingest(run=run, records=[{"step": 4, "total_steps": 10, "loss": 0.5, "time": 9.0}])
    assert RunMetric.objects.get(run=run, step=4, kind="train").data["loss"] == 0.5
    assert run.metrics.count() == 3


def test_metrics_tail_reads_only_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    tail = JsonlTail(path)
    assert tail.read() == []
    path.write_text('{"step": 1}\n{"step": 2')
    assert tail.read() == [{"step": 1}]
    with path.open("a") as handle:
        handle.write("}\n")
    assert tail.read() == [{"step": 2}]
    path.write_text('{"step": 1}\n')  # replaced by a new attempt: start over
    assert tail.read() == [{"step": 1}]


def test_a_run_reaped_meanwhile_keeps_its_outcome_and_becomes_no_model(run: Run, tmp_path: Path) -> None:
    (tmp_path / "final").mkdir()
    (tmp_path / "final" / "model.bin").write_bytes(b"m")
    (tmp_path / "run.log").write_text("log\n")
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.FAILED, error="No heartbeat", output_dir=str(tmp_path)
    )
    run.refresh_from_db()
    RunExecution(run).end(Run.Status.SUCCEEDED, "")
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and not ModelVersion.objects.filter(run=run).exists()
    assert set(run.artifacts.values_list("path", flat=True)) == {"final/model.bin", "run.log"}

    Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING)
    RunExecution(run).end(Run.Status.SUCCEEDED, "")
    version = ModelVersion.objects.get(run=run)
    assert version.path == str(tmp_path / "final") and version.is_reward_model
