"""Runs: building and checking the spec, launching, cancelling, retrying and reaping."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotation.models import AuditEvent, Project
from annotation.services.auditing import audit_record
from rankwise.errors import Conflict, ValidationFailed
from training.models import DatasetSnapshot, Method, ModelVersion, Run
from training.services.dispatch import task_send_later
from training.services.engine import engine_command, spec_validate
from training.services.jobs import job_cancel
from training.services.storage import base_model_check, runs_root

# Prompts a policy run samples before and after training when its launch names none.
DEFAULT_SAMPLE_PROMPTS = 3


@dataclass(frozen=True)
class RunLaunchSpec:
    """What a run is launched with (training.serializers.run_launch_input reads it from a request):
    run_spec_build turns it into the engine's spec; name, queue and round are the Run's own."""

    method: str
    snapshot: DatasetSnapshot
    name: str = ""
    base_model: str = ""
    base_version: ModelVersion | None = None
    reward_version: ModelVersion | None = None
    hyperparameters: Mapping[str, object] | None = None
    lora: Mapping[str, object] | None = None
    seed: int = 0
    precision: str = "auto"
    device: str = "auto"
    sample_prompts: Sequence[str] = ()
    queue: str = "gpu"
    # None: the newest round the snapshot was built from (0 for none).
    round: int | None = None


def run_spec_build(*, spec: RunLaunchSpec, output_dir: str = "") -> dict[str, Any]:
    """The engine spec for a run launched with `spec`, checked by the engine (`validate`) and
    normalised. A policy run (not reward) without sample prompts samples the first prompts of the
    snapshot's eval file (else its train file), so every run shows what its training did to the
    generations, not only margins.

    Raises ValidationFailed naming the field: a base model (text or version) is required, ppo/rloo
    need a reward model version, sft needs a snapshot with demonstrations, and the snapshot must be ready.
    """
    method, snapshot, base_model = spec.method, spec.snapshot, spec.base_model
    base_version, reward_version = spec.base_version, spec.reward_version
    problems = []
    if method not in Method.values:
        problems.append({"field": "method", "reason": f"must be one of {', '.join(Method.values)}"})
    if snapshot.status != DatasetSnapshot.Status.READY:
        problems.append({"field": "snapshot", "reason": "is not ready"})
    if bool(base_model.strip()) == (base_version is not None):
        problems.append(
            {"field": "base_model", "reason": "give either a base model or a model version, not both"}
        )
    elif base_model.strip():
        try:
            base_model_check(value=base_model.strip(), field="base_model")
        except ValidationFailed as exc:
            problems.extend(exc.details)
    if method in (Method.PPO, Method.RLOO):
        if reward_version is None:
            problems.append({"field": "reward_version", "reason": f"{method} needs a reward model version"})
        elif not reward_version.is_reward_model:
            problems.append({"field": "reward_version", "reason": "is not a reward model"})
    elif reward_version is not None:
        problems.append({"field": "reward_version", "reason": f"{method} takes no reward model"})
    if method == Method.SFT and snapshot.status == DatasetSnapshot.Status.READY and not snapshot.sft_rows:
        problems.append({"field": "snapshot", "reason": "has no demonstrations for sft"})
    if problems:
        raise ValidationFailed(
            "Invalid run: " + "; ".join(f"{p['field']} {p['reason']}" for p in problems), details=problems
        )
    directory = Path(snapshot.directory)
    has_eval = snapshot.eval_rows > 0 and method != Method.SFT
    engine_spec: dict[str, Any] = {
        "method": method,
        "base_model": base_version.path if base_version else base_model.strip(),
        "output_dir": output_dir or str(runs_root() / "pending"),
        "train_file": str(directory / ("sft.jsonl" if method == Method.SFT else "train.jsonl")),
        "eval_file": str(directory / "eval.jsonl") if has_eval else None,
        "eval_fraction": snapshot.eval_fraction if method == Method.SFT else 0.0,
        "reward_model": reward_version.path if reward_version else None,
        "hyperparameters": dict(spec.hyperparameters or {}),
        "seed": spec.seed,
        "precision": spec.precision,
        "device": spec.device,
        "snapshot": {"id": snapshot.pk, "sha256": snapshot.sha256},
        "sample_prompts": list(spec.sample_prompts) or _snapshot_sample_prompts(snapshot, method=method),
    }
    if spec.lora is not None:
        engine_spec["lora"] = dict(spec.lora)
    return spec_validate(spec=engine_spec)


def _snapshot_sample_prompts(snapshot: DatasetSnapshot, *, method: str) -> list[Any]:
    """Up to DEFAULT_SAMPLE_PROMPTS distinct prompts (text or message lists) of the snapshot, eval
    rows first; none for reward runs, which generate nothing."""
    if method == Method.REWARD:
        return []
    directory = Path(snapshot.directory)
    names = ("sft.jsonl",) if method == Method.SFT else ("eval.jsonl", "train.jsonl")
    prompts: list[Any] = []
    for name in names:
        path = directory / name
        if not path.is_file():
            continue
        with path.open(encoding="utf-8") as rows:
            for line in rows:
                row = json.loads(line)
                # SFT rows are conversations: the prompt is everything before the last (assistant) turn.
                prompt = row["messages"][:-1] if method == Method.SFT else row["prompt"]
                if prompt and prompt not in prompts:
                    prompts.append(prompt)
                if len(prompts) == DEFAULT_SAMPLE_PROMPTS:
                    return prompts
    return prompts


def run_command(*, run: Run) -> str:
    """The command the worker runs, for display."""
    args = engine_command("run", str(Path(run.output_dir) / "spec.json"))
    return " ".join(args + (["--resume"] if run.attempt > 1 else []))


def _queue_execution(run: Run) -> None:
    from training.tasks import run_execute

    task_send_later(row=run, task=run_execute, queue=run.queue)


def run_launch(*, project: Project, launched_by: AbstractBaseUser | None = None, spec: RunLaunchSpec) -> Run:
    """Builds and checks the engine spec, saves a queued Run with its audit row by `launched_by` and
    queues its execution once committed.

    The snapshot must include the project, so a project's admins only train on data they manage.
    The run's round is spec.round, else the newest round its snapshot was built from (0 for none).
    """
    if spec.round is not None and spec.round < 0:
        raise ValidationFailed(
            "round must be a round number.", details=[{"field": "round", "reason": "must be 0 or more"}]
        )
    snapshot = spec.snapshot
    if not snapshot.projects.filter(pk=project.pk).exists():
        raise ValidationFailed(
            "The snapshot does not include this project.",
            details=[{"field": "snapshot", "reason": "does not include this project"}],
        )
    engine_spec = run_spec_build(spec=spec)
    with transaction.atomic():
        run = Run.objects.create(
            project=project,
            name=spec.name.strip(),
            method=spec.method,
            base_model=spec.base_model.strip(),
            base_version=spec.base_version,
            snapshot=snapshot,
            reward_version=spec.reward_version,
            spec=engine_spec,
            queue=spec.queue,
            launched_by=launched_by,
            round=spec.round if spec.round is not None else max(snapshot.rounds, default=0),
        )
        # A random suffix, so a reset database never reuses another run's directory (and checkpoints).
        run.output_dir = str(runs_root() / f"{run.pk}-{uuid.uuid4().hex[:8]}")
        run.spec = {**engine_spec, "output_dir": run.output_dir}
        run.save(update_fields=["output_dir", "spec"])
        audit_record(
            actor=launched_by,
            action=AuditEvent.Action.RUN_LAUNCH,
            project=project,
            target=f"run {run.pk}",
            details={"run": run.pk, "name": run.name, "method": run.method},
        )
        _queue_execution(run)
    return run


def run_cancel(*, run: Run) -> Run:
    """Cancels a queued run at once; asks the worker to stop a running one (it kills the engine's
    process group within seconds). Raises Conflict for a finished run."""
    return job_cancel(job=run, label=f"Run {run.pk}")


def run_retry(*, run: Run) -> Run:
    """Queues a failed or cancelled run again as its next attempt; the engine resumes from the newest
    checkpoint in its output directory. Raises Conflict unless the run is failed or cancelled."""
    with transaction.atomic():
        updated = Run.objects.filter(pk=run.pk, status__in=[Run.Status.FAILED, Run.Status.CANCELLED]).update(
            status=Run.Status.QUEUED,
            attempt=run.attempt + 1,
            cancel_requested=False,
            error="",
            pid=None,
            dispatched_at=None,
            finished_at=None,
            heartbeat_at=None,
            eta_seconds=None,
        )
        run.refresh_from_db()
        if not updated:
            raise Conflict(f"Only a failed or cancelled run can be retried; run {run.pk} is {run.status}.")
        _queue_execution(run)
    return run
