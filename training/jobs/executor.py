"""The one executor of engine jobs (runs, generation and scoring jobs): claim → start the engine → tail its
output → heartbeat and cancel → finish or fail.

Each kind of job says only what is its own in a JobExecution subclass (training.jobs.runs, .generation,
.scoring): the engine's inputs and command, what to do with the lines it writes, how its end reads, and
what a finished job leaves behind. The tasks that call `job_execute` are safe to run twice: only the
caller whose conditional update claimed the queued job runs it.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from django.utils import timezone

from training.engine.jsonl import JsonlTail
from training.jobs.processes import (
    EngineNotStarted,
    engine_failure,
    engine_launch,
    engine_supervise,
    exit_reason,
)
from training.models import EngineJob, JobStatus
from training.services.engine import engine_command

log = logging.getLogger(__name__)


def job_claim(*, job_model: type[EngineJob], job_id: int, **fields: Any) -> bool:
    """Moves a queued, not cancelled job to running (plus `fields`); True only for the one caller whose
    conditional update changed the row, so a redelivered task does nothing."""
    now = timezone.now()
    return (
        job_model.objects.filter(pk=job_id, status=JobStatus.QUEUED, cancel_requested=False).update(
            status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, **fields
        )
        == 1
    )


def job_finish(*, job_model: type[EngineJob], job_id: int, status: str, error: str, **fields: Any) -> bool:
    """Records the outcome of a job still running; False when it was finished elsewhere meanwhile."""
    now = timezone.now()
    return bool(
        job_model.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
            status=status, error=error, finished_at=now, heartbeat_at=now, **fields
        )
    )


class JobExecution:
    """One claimed job's execution; subclasses fill in what their kind of job does differently."""

    model: ClassVar[type[EngineJob]]
    # The job in words, for errors ("the run's output directory ...").
    label: ClassVar[str]
    # `python -m training.engine <command> spec.json`, and the JSONL file under output_dir it writes.
    command: ClassVar[str]
    output_file: ClassVar[str]

    def __init__(self, job: EngineJob) -> None:
        self.job = job
        self.output = Path(job.output_dir)

    @classmethod
    def job_get(cls, job_id: int) -> EngineJob:
        return cls.model.objects.get(pk=job_id)

    def prepare(self) -> None:
        """Writes the engine's inputs (spec.json and its data) into the output directory."""
        raise NotImplementedError

    def args(self) -> list[str]:
        return engine_command(self.command, str(self.output / "spec.json"))

    def env(self) -> Mapping[str, str] | None:
        return None

    def banner(self) -> str:
        return ""

    def records(self, records: list[dict[str, Any]]) -> None:
        """Takes the new lines of the engine's output file (called every poll, possibly with none)."""
        raise NotImplementedError

    def outcome(self, returncode: int) -> tuple[str, str]:
        """The (status, error) of an engine that ended by itself."""
        if returncode == 0:
            return JobStatus.SUCCEEDED, ""
        return engine_failure(exit_reason(returncode), self.job.log_path)

    def finish(self, status: str, error: str) -> bool:
        """Records the outcome; False when the job was finished elsewhere meanwhile (reaped)."""
        return job_finish(job_model=self.model, job_id=self.job.pk, status=status, error=error)

    def finished(self, status: str, recorded: bool) -> None:
        """What follows the job's end (`recorded`: this worker's outcome is the one that stands)."""

    def supervise(self, process: subprocess.Popen) -> tuple[str, str]:
        outcome = engine_supervise(
            process=process,
            job_model=self.model,
            job_id=self.job.pk,
            tail=JsonlTail(self.output / self.output_file),
            on_records=self.records,
        )
        if outcome.stopped_end:
            return outcome.stopped_end
        assert outcome.returncode is not None
        return self.outcome(outcome.returncode)

    def end(self, status: str, error: str) -> None:
        self.finished(status, self.finish(status, error))


def job_execute(execution: type[JobExecution], *, job_id: int, **claim_fields: Any) -> None:
    """Runs a queued job to its end. Does nothing for a job that is not queued (a redelivered task, a
    cancelled job), so the task is safe to run twice."""
    if not job_claim(job_model=execution.model, job_id=job_id, **claim_fields):
        log.info("%s %s is not queued; nothing to do", execution.label, job_id)
        return
    run = execution(execution.job_get(job_id))
    try:
        process = engine_launch(
            label=execution.label,
            output=run.output,
            prepare=run.prepare,
            args=run.args(),
            log_path=run.job.log_path,
            env=run.env(),
            banner=run.banner(),
        )
    except EngineNotStarted as exc:
        run.end(JobStatus.FAILED, str(exc))
        return
    execution.model.objects.filter(pk=job_id).update(pid=process.pid)
    run.end(*run.supervise(process))
