"""Executing a run on a worker: claim it, supervise the engine subprocess, record the outcome.

The engine runs as `python -m training.engine run spec.json [--resume]` in its own process group
(start_new_session), so cancelling kills it and everything it started (dataloader workers,
accelerate children) together. The supervisor tails metrics.jsonl into RunMetric rows, writes a
heartbeat every couple of seconds and polls cancel_requested.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.errors import storage_error
from training.models import Artifact, ModelVersion, Run
from training.selectors import run_text_file
from training.services import engine_command, file_sha256, run_metrics_ingest, runs_reap_stale

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
POLL_S = 0.5
TERM_GRACE_S = 5.0
LOG_TAIL_BYTES = 4000
PR_SET_PDEATHSIG = 1
# Files registered as artifacts (relative to output_dir), by kind; plus every file under final/.
ARTIFACT_FILES = {
    "model_card.md": "card",
    "result.json": "result",
    "metrics.jsonl": "metrics",
    "run.log": "log",
    "engine.log": "log",
    "spec.json": "spec",
}


class MetricsTail:
    """Reads complete new lines of a growing JSONL file; starts over if the file is replaced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read(self) -> list[dict[str, Any]]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:
            self.offset = 0
        if size == self.offset:
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read(size - self.offset)
        end = data.rfind(b"\n") + 1  # a half-written last line waits for the next read
        self.offset += end
        records = []
        for line in data[:end].splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("skipping a malformed metrics line in %s", self.path)
        return records


def _die_with_parent() -> None:
    """In the engine's child process before exec: on Linux, get SIGKILL when the worker process dies,
    so a lost worker leaves no orphan training on the GPU (the reaper then marks the run failed)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _kill_group(process: subprocess.Popen) -> None:
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


def run_execute(*, run_id: int) -> None:
    """Runs a queued run to its end. Does nothing for a run that is not queued (a redelivered task,
    a cancelled run), so the task is safe to run twice."""
    runs_reap_stale()
    now = timezone.now()
    claimed = Run.objects.filter(pk=run_id, status=Run.Status.QUEUED, cancel_requested=False).update(
        status=Run.Status.RUNNING, started_at=now, heartbeat_at=now, eta_seconds=None
    )
    if claimed != 1:
        log.info("run %s is not queued; nothing to do", run_id)
        return
    run = Run.objects.get(pk=run_id)
    output = Path(run.output_dir)
    args = engine_command("run", str(output / "spec.json")) + (["--resume"] if run.attempt > 1 else [])
    try:
        output.mkdir(parents=True, exist_ok=True)
        (output / "spec.json").write_text(json.dumps(run.spec, indent=2))
        run_log = (output / "run.log").open("ab")
        run_log.write(f"\n=== attempt {run.attempt}: {' '.join(args)}\n".encode())
        run_log.flush()
    except OSError as exc:
        # A claimed run that raised here would stay "running" until the reaper blamed its heartbeat.
        _finish(run, Run.Status.FAILED, storage_error(exc, writing=f"the run's output directory {output}"))
        return
    with run_log:
        try:
            process = subprocess.Popen(
                args,
                cwd=settings.BASE_DIR,
                stdout=run_log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            _finish(run, Run.Status.FAILED, f"Could not start the engine: {exc}")
            return
    Run.objects.filter(pk=run.pk).update(pid=process.pid)
    status, error = _supervise(run, process, output)
    _finish(run, status, error)


def _supervise(run: Run, process: subprocess.Popen, output: Path) -> tuple[str, str]:
    tail = MetricsTail(output / "metrics.jsonl")
    clock = (time.time(), run.step)
    end_event: dict[str, Any] = {}
    last_beat = 0.0
    while True:
        exited = process.poll() is not None
        records = tail.read()
        end_event = next((r for r in records if r.get("event") == "end"), end_event)
        if records:
            run_metrics_ingest(run=run, records=records, clock=clock)
        if exited:
            break
        if time.monotonic() - last_beat >= HEARTBEAT_S:
            last_beat = time.monotonic()
            Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(heartbeat_at=timezone.now())
            current = Run.objects.filter(pk=run.pk).values_list("status", "cancel_requested").first()
            if current is None or current[1] or current[0] != Run.Status.RUNNING:
                _kill_group(process)
                run_metrics_ingest(run=run, records=tail.read(), clock=clock)
                if current is not None and current[0] != Run.Status.RUNNING:
                    return current[0], ""  # already finished elsewhere (reaped): keep that outcome
                return Run.Status.CANCELLED, "Cancelled."
        time.sleep(POLL_S)
    code = process.returncode
    if code == 0 and end_event.get("status", "succeeded") == "succeeded":
        return Run.Status.SUCCEEDED, ""
    reason = end_event.get("error") or (
        f"The engine was killed by signal {-code}." if code < 0 else f"The engine exited with status {code}."
    )
    unwritable = _write_problem(output)
    if unwritable is not None:
        # The engine's own last words (its end event, its log) may not have reached the disk.
        reason = storage_error(unwritable, writing=f"the run's output directory {output}") + f" {reason}"
    log_text = run_text_file(run=run, name="run.log", tail_bytes=LOG_TAIL_BYTES)
    return Run.Status.FAILED, f"{reason}\n\n--- run.log (tail) ---\n{log_text}"


def _write_problem(output: Path) -> OSError | None:
    """Why a small file cannot be written in the output directory now (a full or read-only disk), if so."""
    probe = output / f".write-check-{os.getpid()}"
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


def _finish(run: Run, status: str, error: str) -> None:
    """Records the outcome; a success registers a ModelVersion. The artifacts are hashed first, outside
    the transaction (model files can be large)."""
    output = Path(run.output_dir)
    artifacts = _artifact_files(output)
    with transaction.atomic():
        recorded = Run.objects.filter(pk=run.pk, status=Run.Status.RUNNING).update(
            status=status,
            error=error,
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
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
