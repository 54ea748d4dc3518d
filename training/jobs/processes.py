"""Engine subprocesses on a worker, for runs, generation and scoring jobs alike.

A job here is an EngineJob (Run, GenerationJob, ScoringJob); training.jobs.executor drives these
functions. The engine runs in its own process group (start_new_session), so cancelling kills it and
everything it started (dataloader workers, accelerate children) together; on Linux it also gets
SIGKILL when the worker dies.
The supervisor tails the engine's JSONL output, writes a heartbeat every couple of seconds and polls
cancel_requested.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from rankwise.errors import storage_error
from training.engine.jsonl import JsonlTail
from training.models import JobStatus
from training.services.storage import file_tail

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
POLL_S = 0.5
TERM_GRACE_S = 5.0
PR_SET_PDEATHSIG = 1
RUNNING, CANCELLED, FAILED = JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED
# How much of the engine's log a failed job's error quotes.
LOG_TAIL_BYTES = 4000


def _die_with_parent() -> None:
    """In the engine's child process before exec: on Linux, get SIGKILL when the worker process dies,
    so a lost worker leaves no orphan engine on the GPU (the reaper then marks the job failed)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def engine_start(
    *, args: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None, banner: str = ""
) -> subprocess.Popen:
    """Starts the engine in its own process group, stdout and stderr appended to `log_path` (after
    `banner`, when given). Raises OSError when it cannot be started."""
    with log_path.open("ab") as engine_log:
        if banner:
            engine_log.write(banner.encode())
            engine_log.flush()
        return subprocess.Popen(
            list(args),
            cwd=settings.BASE_DIR,
            env=dict(env) if env is not None else None,
            stdout=engine_log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


class EngineNotStarted(Exception):
    """The engine of a claimed job could not be started; the message is the job's error."""


def engine_launch(
    *,
    label: str,
    output: Path,
    prepare: Callable[[], None],
    args: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    banner: str = "",
) -> subprocess.Popen:
    """Creates the job's output directory, writes the engine's inputs there (`prepare`) and starts it.

    Raises EngineNotStarted instead of OSError, a failed write (a full or read-only disk) named as such,
    so that the caller finishes the claimed job as failed rather than leave it running for the reaper;
    `label` names the job in that sentence ("run")."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        prepare()
        return engine_start(args=args, log_path=log_path, env=env, banner=banner)
    except OSError as exc:
        problem = write_problem(output) if output.is_dir() else exc
        if problem is None:
            raise EngineNotStarted(f"Could not start the engine: {exc}") from exc
        writing = f"the {label}'s output directory {output}"
        raise EngineNotStarted(storage_error(problem, writing=writing)) from exc


def write_problem(directory: Path) -> OSError | None:
    """Why a small file cannot be written in the directory now (a full or read-only disk), if so."""
    probe = directory / f".write-check-{os.getpid()}"
    try:
        with probe.open("wb") as file:
            file.write(b"\0" * 4096)
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        return exc
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return None


def process_group_kill(process: subprocess.Popen) -> None:
    """SIGTERM to the engine's process group, SIGKILL after a grace period; returns once it exited."""
    for sig, wait in ((signal.SIGTERM, TERM_GRACE_S), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:  # whatever the engine started may outlive it; the group goes with it
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@dataclass(frozen=True)
class Supervised:
    """How a supervised engine ended: by itself (`returncode`), or stopped by us (`stopped_as`: cancelled,
    or the status the job was given elsewhere meanwhile, e.g. failed by the reaper)."""

    returncode: int | None
    stopped_as: str = ""

    @property
    def stopped_end(self) -> tuple[str, str] | None:
        """The job's (status, error) when we stopped it: cancelled, or the outcome it was given elsewhere
        (kept as it is); None when the engine ended by itself."""
        if self.stopped_as == CANCELLED:
            return CANCELLED, "Cancelled."
        if self.stopped_as:
            return self.stopped_as, ""
        return None


def engine_supervise(
    *,
    process: subprocess.Popen,
    job_model: type[models.Model],
    job_id: int,
    tail: JsonlTail,
    on_records: Callable[[list[dict[str, Any]]], None],
) -> Supervised:
    """Feeds new output lines to `on_records` every POLL_S until the engine exits, beating the job's
    heartbeat every HEARTBEAT_S. A cancel request, or a job no longer running (reaped), kills the
    process group; the lines written until then are still fed."""
    last_beat = 0.0
    while True:
        exited = process.poll() is not None
        on_records(tail.read())
        if exited:
            return Supervised(returncode=process.returncode)
        if time.monotonic() - last_beat >= HEARTBEAT_S:
            last_beat = time.monotonic()
            jobs = job_model.objects.filter(pk=job_id)
            jobs.filter(status=RUNNING).update(heartbeat_at=timezone.now())
            current = jobs.values_list("status", "cancel_requested").first()
            if current is None or current[1] or current[0] != RUNNING:
                process_group_kill(process)
                on_records(tail.read())
                if current is not None and current[0] != RUNNING:
                    return Supervised(returncode=None, stopped_as=current[0])
                return Supervised(returncode=None, stopped_as=CANCELLED)
        time.sleep(POLL_S)


def exit_reason(returncode: int) -> str:
    """An engine's exit status in words."""
    if returncode < 0:
        return f"The engine was killed by signal {-returncode}."
    return f"The engine exited with status {returncode}."


def engine_failure(reason: str, log_path: Path) -> tuple[str, str]:
    """A failed job's (status, error): the reason, then the tail of the engine's log."""
    return FAILED, f"{reason}\n\n--- {log_path.name} (tail) ---\n{file_tail(log_path, LOG_TAIL_BYTES)}"
