"""Executing a run on a worker: claim it, supervise the engine subprocess, record the outcome.

The engine runs as `python -m training.engine run spec.json [--resume]` through training.jobs.processes (its
own process group, heartbeat, cancel); the supervisor tails metrics.jsonl into RunMetric rows.
"""

from __future__ import annotations

import json
import logging
import subprocess
import time
from pathlib import Path
from typing import Any

from django.db import transaction

from rankwise.errors import storage_error
from training.jobs.processes import (
    EngineNotStarted,
    JsonlTail,
    engine_failure,
    engine_launch,
    engine_supervise,
    exit_reason,
    job_claim,
    job_finish,
    write_problem,
)
from training.models import Artifact, ModelVersion, Run
from training.services.engine import engine_command
from training.services.metrics import run_metrics_ingest
from training.services.runs import runs_reap_stale
from training.services.storage import file_sha256

log = logging.getLogger(__name__)

# Files registered as artifacts (relative to output_dir), by kind; plus every file under final/.
ARTIFACT_FILES = {
    "model_card.md": "card",
    "result.json": "result",
    "metrics.jsonl": "metrics",
    "run.log": "log",
    "engine.log": "log",
    "spec.json": "spec",
}


def run_execute(*, run_id: int) -> None:
    """Runs a queued run to its end. Does nothing for a run that is not queued (a redelivered task,
    a cancelled run), so the task is safe to run twice."""
    runs_reap_stale()
    if not job_claim(job_model=Run, job_id=run_id, eta_seconds=None):
        log.info("run %s is not queued; nothing to do", run_id)
        return
    run = Run.objects.get(pk=run_id)
    output = Path(run.output_dir)
    args = engine_command("run", str(output / "spec.json")) + (["--resume"] if run.attempt > 1 else [])
    try:
        process = engine_launch(
            label="run",
            output=output,
            prepare=lambda: (output / "spec.json").write_text(json.dumps(run.spec, indent=2)),
            args=args,
            log_path=output / "run.log",
            banner=f"\n=== attempt {run.attempt}: {' '.join(args)}\n",
        )
    except EngineNotStarted as exc:
        _finish(run, Run.Status.FAILED, str(exc))
        return
    Run.objects.filter(pk=run.pk).update(pid=process.pid)
    status, error = _supervise(run, process, output)
    _finish(run, status, error)


def _supervise(run: Run, process: subprocess.Popen, output: Path) -> tuple[str, str]:
    clock = (time.time(), run.step)
    end_event: dict[str, Any] = {}

    def ingest(records: list[dict[str, Any]]) -> None:
        nonlocal end_event
        end_event = next((r for r in records if r.get("event") == "end"), end_event)
        if records:
            run_metrics_ingest(run=run, records=records, clock=clock)

    outcome = engine_supervise(
        process=process,
        job_model=Run,
        job_id=run.pk,
        tail=JsonlTail(output / "metrics.jsonl"),
        on_records=ingest,
    )
    if outcome.stopped_end:
        return outcome.stopped_end
    code = outcome.returncode
    if code == 0 and end_event.get("status", "succeeded") == "succeeded":
        return Run.Status.SUCCEEDED, ""
    reason = end_event.get("error") or exit_reason(code)
    unwritable = write_problem(output)
    if unwritable is not None:
        # The engine's own last words (its end event, its log) may not have reached the disk.
        reason = storage_error(unwritable, writing=f"the run's output directory {output}") + f" {reason}"
    return engine_failure(reason, output / "run.log")


def _finish(run: Run, status: str, error: str) -> None:
    """Records the outcome; a success registers a ModelVersion. The artifacts are hashed first, outside
    the transaction (model files can be large)."""
    output = Path(run.output_dir)
    artifacts = _artifact_files(output)
    with transaction.atomic():
        recorded = job_finish(
            job_model=Run,
            job_id=run.pk,
            status=status,
            error=error,
            eta_seconds=0.0 if status == Run.Status.SUCCEEDED else None,
        )
        _artifacts_save(run, artifacts)
        # Only the outcome this worker recorded: a run reaped meanwhile does not become a model.
        if recorded and status == Run.Status.SUCCEEDED and (output / "final").is_dir():
            ModelVersion.objects.get_or_create(
                run=run,
                defaults={
                    "name": f"{run.name or run.method}-run{run.pk}",
                    "path": str(output / "final"),
                    "method": run.method,
                    "base": run.spec.get("base_model", ""),
                    "is_reward_model": run.method == "reward",
                },
            )


def _artifact_files(output: Path) -> list[tuple[str, str, int, str]]:
    """(path relative to output, kind, bytes, sha256) of each output file worth keeping."""
    found = [(output / name, kind) for name, kind in ARTIFACT_FILES.items() if (output / name).is_file()]
    final = output / "final"
    if final.is_dir():
        found += [(path, "model") for path in sorted(final.rglob("*")) if path.is_file()]
    return [
        (str(path.relative_to(output)), kind, path.stat().st_size, file_sha256(path)) for path, kind in found
    ]


def _artifacts_save(run: Run, files: list[tuple[str, str, int, str]]) -> None:
    for path, kind, size, sha256 in files:
        Artifact.objects.update_or_create(
            run=run, path=path, defaults={"kind": kind, "bytes": size, "sha256": sha256}
        )


def artifacts_register(*, run: Run) -> int:
    """Registers (or refreshes) the run's output files as Artifacts; returns how many there are."""
    files = _artifact_files(Path(run.output_dir))
    _artifacts_save(run, files)
    return len(files)
