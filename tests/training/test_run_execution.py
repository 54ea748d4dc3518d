"""Runs through the real task on a real Celery worker, with the real engine on the tiny model."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from annotation.models import Project
from tests.factories import ProjectFactory
from tests.training.conftest import judged_project
from tests.waiting import wait_until
from training.jobs.reaping import jobs_reap_stale
from training.models import Artifact, DatasetSnapshot, ModelVersion, Run, RunMetric
from training.services.runs import RunLaunchSpec, run_cancel, run_launch, run_retry
from training.services.snapshots import SnapshotSpec, snapshot_queue

pytestmark = [pytest.mark.integration, pytest.mark.training]


def launch(snapshot: tuple[Project, DatasetSnapshot], model: str, **hyperparameters: object) -> Run:
    project, snap = snapshot
    return run_launch(
        project=project,
        spec=RunLaunchSpec(
            method="reward",
            snapshot=snap,
            base_model=model,
            device="cpu",
            hyperparameters={"per_device_train_batch_size": 4, "logging_steps": 1, **hyperparameters},
        ),
    )


def checkpoint_saved(checkpoints: Path) -> bool:
    """A whole checkpoint is on disk: the Trainer writes trainer_state.json after the weights,
    optimizer and RNG state."""
    return any(checkpoints.glob("checkpoint-*/trainer_state.json"))


def wait_for(run: Run, condition: Callable[[Run], bool]) -> Run:
    """Polls the run until `condition` holds (tests.waiting's generous deadline), then returns it."""

    def reached() -> bool:
        run.refresh_from_db()
        return condition(run)

    def state() -> str:
        log = Path(run.output_dir) / "run.log"
        tail = log.read_text()[-3000:] if log.exists() else ""
        return f"run {run.pk}, still {run.status} at step {run.step}\n{run.error}\n{tail}"

    wait_until(reached, what=state)
    return run


def group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


# Slow steps (0.5–1 s on CPU) so there is time to act while the engine trains.
SLOW = {"gradient_accumulation_steps": 40}
# Runs that get killed part way: long enough that the kill lands well before the end even on an idle
# machine, where a step of the tiny model can take well under a second.
KILLED_RUN_STEPS = 60


def test_reward_run_succeeds_with_metrics_and_a_model_version(
    celery_worker_process, judged_snapshot, tiny_model
) -> None:
    run = launch(judged_snapshot, tiny_model, max_steps=4, save_steps=2)
    run = wait_for(run, lambda r: r.is_finished)

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert (run.step, run.total_steps) == (4, 4)
    assert RunMetric.objects.filter(run=run, kind="train").count() == 4
    assert "rewards/accuracies" in RunMetric.objects.filter(run=run, kind="train").first().data
    assert RunMetric.objects.filter(run=run, kind="eval").exists()
    version = ModelVersion.objects.get(run=run)
    assert (
        version.is_reward_model and version.path == f"{run.output_dir}/final" and version.base == tiny_model
    )
    paths = set(Artifact.objects.filter(run=run).values_list("path", flat=True))
    assert {"model_card.md", "result.json", "metrics.jsonl", "run.log", "spec.json"} <= paths
    assert any(p.startswith("final/") for p in paths)
    assert json.loads((Path(run.output_dir) / "result.json").read_text())["status"] == "succeeded"


def test_a_queued_snapshot_is_built_by_the_worker(celery_worker_process, transactional_db: None) -> None:
    project = judged_project(ProjectFactory(), comparisons=3)
    snapshot = snapshot_queue(spec=SnapshotSpec(name="queued", projects=[project]))

    def built() -> bool:
        snapshot.refresh_from_db()
        return snapshot.status != DatasetSnapshot.Status.BUILDING

    wait_until(built, what="the worker to build the snapshot")
    assert snapshot.status == DatasetSnapshot.Status.READY and snapshot.train_rows + snapshot.eval_rows == 3


def test_cancel_kills_the_engine_and_its_process_group(
    celery_worker_process, judged_snapshot, tiny_model
) -> None:
    run = launch(judged_snapshot, tiny_model, max_steps=1000, **SLOW)
    run = wait_for(run, lambda r: r.step >= 1 or r.is_finished)
    pid = run.pid
    run_cancel(run=run)
    run = wait_for(run, lambda r: r.is_finished)

    assert run.status == Run.Status.CANCELLED
    assert not group_alive(pid)
    assert not ModelVersion.objects.filter(run=run).exists()


def test_killed_engine_fails_the_run_with_its_log_then_retry_resumes(
    celery_worker_process, judged_snapshot, tiny_model
) -> None:
    run = launch(judged_snapshot, tiny_model, max_steps=KILLED_RUN_STEPS, save_steps=2, **SLOW)
    checkpoints = Path(run.output_dir) / "checkpoints"
    run = wait_for(run, lambda r: r.is_finished or checkpoint_saved(checkpoints))
    os.kill(run.pid, signal.SIGKILL)
    saved = max(int(p.name.split("-")[-1]) for p in checkpoints.glob("checkpoint-*"))
    run = wait_for(run, lambda r: r.is_finished)

    assert run.status == Run.Status.FAILED
    assert "killed by signal 9" in run.error and "run.log (tail)" in run.error

    run_retry(run=run)
    run = wait_for(run, lambda r: r.is_finished)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.attempt == 2 and run.step == KILLED_RUN_STEPS
    records = [json.loads(line) for line in (Path(run.output_dir) / "metrics.jsonl").read_text().splitlines()]
    starts = [i for i, r in enumerate(records) if r.get("event") == "start"]
    assert len(starts) == 2
    resumed_first_step = next(r["step"] for r in records[starts[1] :] if "step" in r)
    assert 1 < resumed_first_step <= saved + 1
    assert "--resume" in (Path(run.output_dir) / "run.log").read_text()


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_a_dead_worker_takes_the_engine_with_it_and_the_run_is_reaped(
    celery_worker_process, judged_snapshot, tiny_model
) -> None:
    run = launch(judged_snapshot, tiny_model, max_steps=1000, **SLOW)
    run = wait_for(run, lambda r: r.step >= 1 or r.is_finished)
    assert run.status == Run.Status.RUNNING
    engine = run.pid
    pool_process = parent_pid(engine)
    assert pool_process != celery_worker_process.pid  # the prefork child that runs the task
    os.kill(pool_process, signal.SIGKILL)

    wait_until(lambda: not group_alive(engine), what="the engine to die with its pool process")
    # Its heartbeat stops with it: once it is 2 s old, the reaper fails the run.
    wait_until(lambda: jobs_reap_stale(stale_after=timedelta(seconds=2)) == 1, what="a stale heartbeat")
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and "heartbeat" in run.error
    # The redelivered task (acks_late, rejected on worker loss) finds the run no longer queued.
    log = celery_worker_process.log
    wait_until(lambda: f"run {run.pk} is not queued" in log.read_text(), what="the redelivered task")
    run.refresh_from_db()
    assert (run.status, run.attempt) == (Run.Status.FAILED, 1)
