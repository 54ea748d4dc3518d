"""Executing a run on a worker (training.jobs.executor): the engine's metrics.jsonl becomes RunMetric
rows as it grows; a success registers the artifacts and a ModelVersion."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.db import transaction

from rankwise.errors import storage_error
from training.jobs.executor import JobExecution, job_execute, job_finish
from training.jobs.processes import engine_failure, exit_reason, write_problem
from training.models import Artifact, ModelVersion, Run
from training.services.metrics import run_metrics_ingest
from training.services.storage import file_sha256

# Files registered as artifacts (relative to output_dir), by kind; plus every file under final/.
ARTIFACT_FILES = {
    "model_card.md": "card",
    "result.json": "result",
    "metrics.jsonl": "metrics",
    "run.log": "log",
    "engine.log": "log",
    "spec.json": "spec",
}


class RunExecution(JobExecution):
    model = Run
    label = "run"
    command = "run"
    output_file = "metrics.jsonl"
    job: Run

    def __init__(self, job: Run) -> None:
        super().__init__(job)
        # (when this attempt started, the step it started from): the ETA is this attempt's pace.
        self.clock = (time.time(), job.step)
        self.end_event: dict[str, Any] = {}

    def prepare(self) -> None:
        (self.output / "spec.json").write_text(json.dumps(self.job.spec, indent=2))

    def args(self) -> list[str]:
        return super().args() + (["--resume"] if self.job.attempt > 1 else [])

    def banner(self) -> str:
        return f"\n=== attempt {self.job.attempt}: {' '.join(self.args())}\n"

    def records(self, records: list[dict[str, Any]]) -> None:
        self.end_event = next((r for r in records if r.get("event") == "end"), self.end_event)
        if records:
            run_metrics_ingest(run=self.job, records=records, clock=self.clock)

    def outcome(self, returncode: int) -> tuple[str, str]:
        if returncode == 0 and self.end_event.get("status", "succeeded") == "succeeded":
            return Run.Status.SUCCEEDED, ""
        reason = self.end_event.get("error") or exit_reason(returncode)
        unwritable = write_problem(self.output)
        if unwritable is not None:
            # The engine's own last words (its end event, its log) may not have reached the disk.
            reason = (
                storage_error(unwritable, writing=f"the run's output directory {self.output}") + f" {reason}"
            )
        return engine_failure(reason, self.job.log_path)

    def finish(self, status: str, error: str) -> bool:
        """Records the outcome; a success registers a ModelVersion. The artifacts are hashed first,
        outside the transaction (model files can be large)."""
        run, output = self.job, self.output
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
        return recorded


def run_execute(*, run_id: int) -> None:
    """Runs a queued run to its end; does nothing for a run that is not queued (a redelivered task, a
    cancelled run), so the task is safe to run twice."""
    job_execute(RunExecution, job_id=run_id, eta_seconds=None)


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
