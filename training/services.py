"""The only code that writes training data: snapshots, launching, cancelling, retrying and reaping runs,
and ingesting the engine's metrics.

Django never imports the engine: specs are checked by running `python -m training.engine validate`
as a subprocess (settings.RANKWISE_ENGINE_PYTHON), and runs execute it in training.execution.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from annotation.models import Comparison, Project
from annotation.quality.annotators import annotator_scores
from annotation.selectors.quality import project_thresholds, quality_inputs_get
from annotation.services.exporting import ExportSpec, export_rows, export_spec_parse
from rankwise.errors import Conflict, ValidationFailed, storage_error
from training.models import DatasetSnapshot, Method, ModelVersion, Run, RunMetric
from training.processes import job_cancel, jobs_reap_stale

# Export parameters a snapshot accepts (the export doors' names); files are always JSONL.
SNAPSHOT_FILTERS = (
    "kind",
    "conversational",
    "ranking_pairs",
    "ties",
    "aggregate",
    "from",
    "to",
    "annotator",
    "exclude_annotator",
    "min_agreement",
    "rating_threshold",
    "include_imported",
    "round",
    "include_arena",
    "exclude_flagged",
)
SNAPSHOT_KINDS = ("preference", "unpaired")
# exclude_flagged: leave out annotators the quality scores flag, "gold" (low gold accuracy) or "any".
EXCLUDE_FLAGGED = {"gold": ("low gold accuracy",), "any": None}
ENGINE_TIMEOUT_S = 60
# Prompts a policy run samples before and after training when its launch names none.
DEFAULT_SAMPLE_PROMPTS = 3


def _snapshots_root() -> Path:
    return Path(settings.DATA_DIR) / "snapshots"


def runs_root() -> Path:
    return Path(settings.DATA_DIR) / "runs"


def default_model() -> str:
    """The model the launch form suggests: settings.RANKWISE_DEFAULT_MODEL (the tiny local one by default)."""
    return settings.RANKWISE_DEFAULT_MODEL


def engine_command(*args: str) -> list[str]:
    """The command line that runs the engine CLI with the configured interpreter."""
    return [settings.RANKWISE_ENGINE_PYTHON or sys.executable, "-m", "training.engine", *args]


def _engine_call(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        engine_command(*args), cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S
    )


# -- Snapshots -----------------------------------------------------------------------------------


def split_is_eval(*, key: int | str, seed: int, eval_fraction: float) -> bool:
    """Whether the row keyed `key` (a comparison id) goes to eval: a seeded hash, stable across runs
    and machines, so every pair of one comparison lands on the same side."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < eval_fraction


def _normalise_filters(filters: Mapping[str, Any]) -> dict[str, str]:
    unknown = sorted(set(filters) - set(SNAPSHOT_FILTERS))
    if unknown:
        raise ValidationFailed(
            f"Unknown snapshot filters: {', '.join(unknown)}",
            details=[{"field": name, "reason": "is not a snapshot filter"} for name in unknown],
        )
    clean: dict[str, str] = {}
    for name in SNAPSHOT_FILTERS:
        value = filters.get(name)
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        clean[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return clean


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _JsonlWriter:
    """Writes rows as JSONL (the export's byte format) while counting rows and hashing the bytes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = path.open("wb")
        self.digest = hashlib.sha256()
        self.rows = 0
        self.bytes = 0

    def write(self, row: dict) -> None:
        data = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        self.handle.write(data)
        self.digest.update(data)
        self.rows += 1
        self.bytes += len(data)

    def close(self) -> dict[str, Any]:
        self.handle.close()
        return {"rows": self.rows, "bytes": self.bytes, "sha256": self.digest.hexdigest()}


def snapshot_request(
    *,
    name: str,
    projects: Sequence[Project],
    filters: Mapping[str, Any] | None = None,
    split_seed: int = 0,
    eval_fraction: float = 0.1,
    created_by: AbstractBaseUser | None = None,
) -> DatasetSnapshot:
    """Checks the input and saves a building snapshot; the caller builds it (snapshot_build), or
    snapshot_queue has a `default` worker build it. Raises ValidationFailed naming the field."""
    problems = []
    if not name.strip():
        problems.append({"field": "name", "reason": "is required"})
    if not projects:
        problems.append({"field": "projects", "reason": "at least one project is required"})
    if not (isinstance(eval_fraction, int | float) and 0.0 <= eval_fraction < 1.0):
        problems.append({"field": "eval_fraction", "reason": "must be a number in [0, 1)"})
    if not isinstance(split_seed, int):
        problems.append({"field": "split_seed", "reason": "must be an integer"})
    if problems:
        raise ValidationFailed(
            "Invalid snapshot: " + "; ".join(f"{p['field']} {p['reason']}" for p in problems),
            details=problems,
        )
    clean = _normalise_filters(filters or {})
    spec = _snapshot_export_spec(clean)
    with transaction.atomic():
        snapshot = DatasetSnapshot.objects.create(
            name=name.strip(),
            filters=clean,
            rounds=list(spec.rounds),
            split_seed=split_seed,
            eval_fraction=eval_fraction,
            created_by=created_by,
        )
        # The id plus a random suffix: a database restored or reset beside a kept data directory
        # must never point a snapshot at another one's files.
        snapshot.directory = str(_snapshots_root() / f"{snapshot.pk}-{uuid.uuid4().hex[:8]}")
        snapshot.save(update_fields=["directory"])
        snapshot.projects.set(projects)
    return snapshot


def _snapshot_export_spec(filters: Mapping[str, str]) -> ExportSpec:
    flagged = filters.get("exclude_flagged")
    if flagged is not None and flagged not in EXCLUDE_FLAGGED:
        raise ValidationFailed(
            f"exclude_flagged must be one of {', '.join(EXCLUDE_FLAGGED)}",
            details=[{"field": "exclude_flagged", "reason": f"must be one of {', '.join(EXCLUDE_FLAGGED)}"}],
        )
    params = {k: [v] for k, v in filters.items() if k != "exclude_flagged"}
    spec = export_spec_parse(params=params)
    if spec.kind not in SNAPSHOT_KINDS:
        raise ValidationFailed(
            f"A snapshot holds preference or unpaired rows, not {spec.kind!r}",
            details=[{"field": "kind", "reason": f"must be one of {', '.join(SNAPSHOT_KINDS)}"}],
        )
    return spec


def snapshot_queue(**arguments: Any) -> DatasetSnapshot:
    """snapshot_request, then a `default` worker builds it once the transaction commits (large
    projects take longer than a web request may). Same arguments as snapshot_request."""
    from training.tasks import snapshot_build as task

    with transaction.atomic():
        snapshot = snapshot_request(**arguments)
        transaction.on_commit(lambda: task.apply_async((snapshot.pk,), queue="default"))
    return snapshot


def snapshot_create(**arguments: Any) -> DatasetSnapshot:
    """snapshot_request and snapshot_build in one call; returns the ready snapshot."""
    return snapshot_build(snapshot_id=snapshot_request(**arguments).pk)


def snapshot_build(*, snapshot_id: int) -> DatasetSnapshot:
    """Freezes a building snapshot's data into its directory (DATA_DIR/snapshots/<id>-<random>/) and
    marks it ready.

    Files: train.jsonl and eval.jsonl (split by a seeded hash of comparison_id), sft.jsonl when the
    projects have demonstrations, and manifest.json (counts, filters, split, sha256 per file). They
    are written to a temporary directory renamed into place at the end, so a crash leaves no
    half-written snapshot, then made read-only. snapshot.sha256 hashes the content (files, filters,
    split), so the same data with the same filters and seed gives the same sha256. A snapshot that is
    not building is returned as it is, so a redelivered task does nothing.
    """
    snapshot = DatasetSnapshot.objects.get(pk=snapshot_id)
    if snapshot.status != DatasetSnapshot.Status.BUILDING:
        return snapshot
    projects = list(snapshot.projects.order_by("pk"))
    clean, split_seed, eval_fraction = snapshot.filters, snapshot.split_seed, snapshot.eval_fraction
    spec = _snapshot_export_spec(clean)
    excluded = _flagged_annotators(projects, clean["exclude_flagged"]) if "exclude_flagged" in clean else []
    if excluded:
        spec = dataclasses.replace(
            spec, exclude_annotator_ids=tuple(sorted(set(spec.exclude_annotator_ids) | set(excluded)))
        )
    final = Path(snapshot.directory)
    root = final.parent
    temp = root / f".building-{snapshot.pk}-{uuid.uuid4().hex}"
    # Slow I/O outside any transaction: the rows are read in chunks and written as they come.
    try:
        root.mkdir(parents=True, exist_ok=True)
        if final.exists():  # renamed into place, then the process died before marking it ready
            for path in final.iterdir():
                path.chmod(0o644)
            shutil.rmtree(final)
        temp.mkdir()
        files = _snapshot_files(
            temp, projects=projects, spec=spec, seed=split_seed, eval_fraction=eval_fraction
        )
        rounds = list(spec.rounds) or _judged_rounds(projects, spec)
        split = {"seed": split_seed, "eval_fraction": eval_fraction, "by": "comparison_id"}
        content = {"files": {n: f["sha256"] for n, f in files.items()}, "filters": clean, "split": split}
        sha256 = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        manifest = {
            "snapshot_id": snapshot.pk,
            "name": snapshot.name,
            "projects": [{"id": p.pk, "slug": p.slug, "name": p.name} for p in projects],
            "filters": clean,
            "rounds": rounds,
            "kind": spec.kind,
            "split": split,
            "excluded_flagged_annotators": excluded,
            "files": files,
            "counts": {n.removesuffix(".jsonl"): f["rows"] for n, f in files.items()},
            "sha256": sha256,
            "created_by": getattr(snapshot.created_by, "username", None),
            "created_at": snapshot.created_at.isoformat(),
        }
        (temp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        for path in temp.iterdir():
            path.chmod(0o444)
        os.replace(temp, final)
    except Exception as exc:
        shutil.rmtree(temp, ignore_errors=True)
        if isinstance(exc, OSError):
            error = storage_error(exc, writing=f"the snapshot files under {root}") + " Nothing was kept."
        else:
            error = f"{type(exc).__name__}: {exc}"
        DatasetSnapshot.objects.filter(pk=snapshot.pk).update(
            status=DatasetSnapshot.Status.FAILED, error=error
        )
        raise
    counts = manifest["counts"]
    DatasetSnapshot.objects.filter(pk=snapshot.pk, status=DatasetSnapshot.Status.BUILDING).update(
        status=DatasetSnapshot.Status.READY,
        manifest=manifest,
        rounds=rounds,
        sha256=sha256,
        train_rows=counts["train"],
        eval_rows=counts["eval"],
        sft_rows=counts.get("sft", 0),
    )
    snapshot.refresh_from_db()
    return snapshot


def _judged_rounds(projects: Sequence[Project], spec: ExportSpec) -> list[int]:
    """The rounds of the projects' comparisons that have judgments (arena battles only when the
    spec includes them): what a snapshot without a round filter is built from."""
    comparisons = Comparison.objects.filter(project__in=projects, judgments__isnull=False)
    if not spec.include_arena:
        comparisons = comparisons.filter(arena=False)
    return sorted(comparisons.values_list("round", flat=True).distinct())


def _flagged_annotators(projects: Sequence[Project], which: str) -> list[int]:
    """Ids of annotators the quality scores flag, under each project's own thresholds, in any of the
    projects (for "gold": low gold accuracy)."""
    wanted = EXCLUDE_FLAGGED[which]
    flagged: set[int] = set()
    for project in projects:
        inputs = quality_inputs_get(project=project)
        thresholds = project_thresholds(project=project)
        for score in annotator_scores(
            inputs.records, gold=inputs.gold, skips=inputs.skips, thresholds=thresholds
        ):
            if any(wanted is None or flag in wanted for flag in score.flags):
                flagged.add(score.annotator_id)
    return sorted(flagged)


def _snapshot_files(
    directory: Path, *, projects: Sequence[Project], spec: ExportSpec, seed: int, eval_fraction: float
) -> dict[str, dict[str, Any]]:
    train, evaluation = _JsonlWriter(directory / "train.jsonl"), _JsonlWriter(directory / "eval.jsonl")
    for row in export_rows(projects=projects, spec=spec):
        key = row.get("comparison_id", row.get("prompt_id"))
        (evaluation if split_is_eval(key=key, seed=seed, eval_fraction=eval_fraction) else train).write(row)
    files = {"train.jsonl": train.close(), "eval.jsonl": evaluation.close()}
    sft_spec = ExportSpec(
        kind="sft",
        date_from=spec.date_from,
        date_to=spec.date_to,
        annotator_ids=spec.annotator_ids,
        exclude_annotator_ids=spec.exclude_annotator_ids,
        rounds=spec.rounds,
        include_arena=spec.include_arena,
    )
    sft = _JsonlWriter(directory / "sft.jsonl")
    for row in export_rows(projects=projects, spec=sft_spec):
        sft.write(row)
    if sft.rows:
        files["sft.jsonl"] = sft.close()
    else:
        sft.close()
        (directory / "sft.jsonl").unlink()
    return files


def snapshot_verify(*, snapshot: DatasetSnapshot) -> list[str]:
    """The files whose bytes no longer match the manifest (empty when the snapshot is intact)."""
    directory = Path(snapshot.directory)
    return [
        name
        for name, meta in snapshot.manifest.get("files", {}).items()
        if not (directory / name).exists() or file_sha256(directory / name) != meta["sha256"]
    ]


# -- Launching -----------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _method_defaults(method: str) -> str:
    result = _engine_call("defaults", method)
    if result.returncode != 0:
        raise ValidationFailed(
            f"The engine has no defaults for {method!r}: {result.stderr.strip()}",
            details=[{"field": "method", "reason": result.stderr.strip()}],
        )
    return result.stdout


def method_defaults(*, method: str) -> dict[str, Any]:
    """The engine's default hyperparameters for `method` (asked once per process, then cached)."""
    if method not in Method.values:
        raise ValidationFailed(
            f"Unknown method {method!r}", details=[{"field": "method", "reason": "unknown"}]
        )
    return json.loads(_method_defaults(method))


def spec_validate(*, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The engine's normalised spec (defaults filled in), or ValidationFailed naming the field."""
    runs_root().mkdir(parents=True, exist_ok=True)
    path = runs_root() / f".validate-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(spec))
    try:
        result = _engine_call("validate", str(path))
    finally:
        path.unlink(missing_ok=True)
    if result.returncode == 2:
        message = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "invalid spec"
        message = message.removeprefix("invalid spec: ")
        field, _, reason = message.partition(": ")
        raise ValidationFailed(
            f"Invalid run spec: {message}", details=[{"field": field, "reason": reason or message}]
        )
    if result.returncode != 0:
        raise RuntimeError(
            f"`training.engine validate` failed ({result.returncode}): {result.stderr[-2000:]}"
        )
    return json.loads(result.stdout)


def run_spec_build(
    *,
    method: str,
    snapshot: DatasetSnapshot,
    base_model: str = "",
    base_version: ModelVersion | None = None,
    reward_version: ModelVersion | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    lora: Mapping[str, Any] | None = None,
    seed: int = 0,
    precision: str = "auto",
    device: str = "auto",
    sample_prompts: Sequence[str] = (),
    output_dir: str = "",
) -> dict[str, Any]:
    """The engine spec for a run, checked by the engine (`validate`) and normalised. A policy run
    (not reward) without sample prompts samples the first prompts of the snapshot's eval file (else
    its train file), so every run shows what its training did to the generations, not only margins.

    Raises ValidationFailed naming the field: a base model (text or version) is required, ppo/rloo
    need a reward model version, sft needs a snapshot with demonstrations, and the snapshot must be ready.
    """
    problems = []
    if method not in Method.values:
        problems.append({"field": "method", "reason": f"must be one of {', '.join(Method.values)}"})
    if snapshot.status != DatasetSnapshot.Status.READY:
        problems.append({"field": "snapshot", "reason": "is not ready"})
    if bool(base_model.strip()) == (base_version is not None):
        problems.append(
            {"field": "base_model", "reason": "give either a base model or a model version, not both"}
        )
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
    spec: dict[str, Any] = {
        "method": method,
        "base_model": base_version.path if base_version else base_model.strip(),
        "output_dir": output_dir or str(runs_root() / "pending"),
        "train_file": str(directory / ("sft.jsonl" if method == Method.SFT else "train.jsonl")),
        "eval_file": str(directory / "eval.jsonl") if has_eval else None,
        "eval_fraction": snapshot.eval_fraction if method == Method.SFT else 0.0,
        "reward_model": reward_version.path if reward_version else None,
        "hyperparameters": dict(hyperparameters or {}),
        "seed": seed,
        "precision": precision,
        "device": device,
        "snapshot": {"id": snapshot.pk, "sha256": snapshot.sha256},
        "sample_prompts": list(sample_prompts) or _snapshot_sample_prompts(snapshot, method=method),
    }
    if lora is not None:
        spec["lora"] = dict(lora)
    return spec_validate(spec=spec)


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

    transaction.on_commit(lambda: run_execute.apply_async((run.pk,), queue=run.queue))


def run_launch(
    *,
    project: Project,
    method: str,
    snapshot: DatasetSnapshot,
    launched_by: AbstractBaseUser | None = None,
    name: str = "",
    base_model: str = "",
    base_version: ModelVersion | None = None,
    reward_version: ModelVersion | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    lora: Mapping[str, Any] | None = None,
    seed: int = 0,
    precision: str = "auto",
    device: str = "auto",
    sample_prompts: Sequence[str] = (),
    queue: str = "gpu",
    round: int | None = None,
) -> Run:
    """Builds and checks the spec, saves a queued Run and queues its execution once committed.

    The snapshot must include the project, so a project's admins only train on data they manage.
    The run's round is `round`, else the newest round its snapshot was built from (0 for none).
    """
    if round is not None and round < 0:
        raise ValidationFailed(
            "round must be a round number.", details=[{"field": "round", "reason": "must be 0 or more"}]
        )
    if not snapshot.projects.filter(pk=project.pk).exists():
        raise ValidationFailed(
            "The snapshot does not include this project.",
            details=[{"field": "snapshot", "reason": "does not include this project"}],
        )
    spec = run_spec_build(
        method=method,
        snapshot=snapshot,
        base_model=base_model,
        base_version=base_version,
        reward_version=reward_version,
        hyperparameters=hyperparameters,
        lora=lora,
        seed=seed,
        precision=precision,
        device=device,
        sample_prompts=sample_prompts,
    )
    with transaction.atomic():
        run = Run.objects.create(
            project=project,
            name=name.strip(),
            method=method,
            base_model=base_model.strip(),
            base_version=base_version,
            snapshot=snapshot,
            reward_version=reward_version,
            spec=spec,
            queue=queue,
            launched_by=launched_by,
            round=round if round is not None else max(snapshot.rounds, default=0),
        )
        # A random suffix, so a reset database never reuses another run's directory (and checkpoints).
        run.output_dir = str(runs_root() / f"{run.pk}-{uuid.uuid4().hex[:8]}")
        run.spec = {**spec, "output_dir": run.output_dir}
        run.save(update_fields=["output_dir", "spec"])
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
            finished_at=None,
            heartbeat_at=None,
            eta_seconds=None,
        )
        run.refresh_from_db()
        if not updated:
            raise Conflict(f"Only a failed or cancelled run can be retried; run {run.pk} is {run.status}.")
        _queue_execution(run)
    return run


def runs_reap_stale(*, stale_after: timedelta | None = None) -> int:
    """Marks running runs whose heartbeat is older than `stale_after` failed (their worker died);
    returns how many. Safe to call from anywhere, any number of times."""
    stale_after = stale_after or timedelta(seconds=settings.RANKWISE_RUN_STALE_SECONDS)
    return jobs_reap_stale(
        job_model=Run,
        stale_after=stale_after,
        error=f"No heartbeat for {int(stale_after.total_seconds())} s: the worker running it stopped.",
    )


# -- Metrics -------------------------------------------------------------------------------------


def run_metrics_ingest(
    *, run: Run, records: Iterable[Mapping[str, Any]], clock: tuple[float, int] | None = None
) -> int:
    """Stores the engine's metrics.jsonl records as RunMetric rows and updates progress and ETA.

    Idempotent: a step seen again (a resumed attempt) replaces the stored values. `clock` is
    (unix time the attempt started, the step it started from): the ETA is the attempt's time per step
    so far times the steps left. Returns the number of step records stored.
    """
    rows: list[RunMetric] = []
    fields: dict[str, Any] = {}
    for record in records:
        if record.get("total_steps"):
            fields["total_steps"] = int(record["total_steps"])
        if record.get("event") or "step" not in record:
            continue
        step = int(record["step"])
        is_eval = any(key.startswith("eval_") for key in record)
        kind = RunMetric.Kind.EVAL if is_eval else RunMetric.Kind.TRAIN
        rows.append(RunMetric(run=run, step=step, kind=kind, data=dict(record)))
        if not is_eval and step > fields.get("step", run.step):
            fields["step"] = step
    if rows:
        # A step logged twice in one batch keeps its last values, as a resumed attempt's would.
        unique = {(row.step, row.kind): row for row in rows}
        RunMetric.objects.bulk_create(
            list(unique.values()),
            update_conflicts=True,
            unique_fields=["run", "step", "kind"],
            update_fields=["data"],
        )
    step, total = fields.get("step", run.step), fields.get("total_steps", run.total_steps)
    if clock and "step" in fields and total and step > clock[1]:
        elapsed = time.time() - clock[0]
        fields["eta_seconds"] = max(0.0, elapsed / (step - clock[1]) * (total - step))
    if fields:
        Run.objects.filter(pk=run.pk).update(**fields)
        for name, value in fields.items():
            setattr(run, name, value)
    return len(rows)
