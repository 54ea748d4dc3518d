"""Dataset snapshots: requesting, building and verifying frozen exports."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from annotation.models import Comparison, Project
from annotation.quality.annotators import annotator_scores
from annotation.selectors.quality import project_thresholds, quality_inputs_get
from annotation.services.exporting import ExportSpec, export_rows, export_spec_parse
from rankwise.errors import Conflict, ValidationFailed, storage_error
from training.engine.jsonl import JsonlWriter
from training.models import DatasetSnapshot
from training.services.dispatch import task_send_later
from training.services.storage import file_sha256, snapshots_root

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


def split_is_eval(*, key: int | str, seed: int, eval_fraction: float) -> bool:
    """Whether the row keyed `key` (a comparison id) goes to eval: a seeded hash, stable across runs
    and machines, so every pair of one comparison lands on the same side."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < eval_fraction


def _normalise_filters(filters: Mapping[str, object]) -> dict[str, str]:
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


@dataclasses.dataclass(frozen=True)
class SnapshotSpec:
    """What a snapshot freezes (training.serializers.snapshot_input reads it from a request): the
    projects' data under the export `filters` (SNAPSHOT_FILTERS), split into train and eval by a
    seeded hash."""

    name: str
    projects: Sequence[Project]
    filters: Mapping[str, object] | None = None
    split_seed: int = 0
    eval_fraction: float = 0.1


# How often a building snapshot's heartbeat is renewed (training.jobs.reaping fails a stale one).
HEARTBEAT_S = 5.0


def snapshot_request(*, spec: SnapshotSpec, created_by: AbstractBaseUser | None = None) -> DatasetSnapshot:
    """Checks the spec and saves a building snapshot; the caller builds it (snapshot_build), or
    snapshot_queue has a `default` worker build it. Raises ValidationFailed naming the field."""
    name, projects, split_seed, eval_fraction = spec.name, spec.projects, spec.split_seed, spec.eval_fraction
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
    clean = _normalise_filters(spec.filters or {})
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
        snapshot.directory = str(snapshots_root() / f"{snapshot.pk}-{uuid.uuid4().hex[:8]}")
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


def snapshot_queue(*, spec: SnapshotSpec, created_by: AbstractBaseUser | None = None) -> DatasetSnapshot:
    """snapshot_request, then a `default` worker builds it once the transaction commits (large
    projects take longer than a web request may)."""
    from training.tasks import snapshot_build as task

    with transaction.atomic():
        snapshot = snapshot_request(spec=spec, created_by=created_by)
        task_send_later(row=snapshot, task=task, queue="default")
    return snapshot


def snapshot_create(*, spec: SnapshotSpec, created_by: AbstractBaseUser | None = None) -> DatasetSnapshot:
    """snapshot_request and snapshot_build in one call; returns the ready snapshot."""
    return snapshot_build(snapshot_id=snapshot_request(spec=spec, created_by=created_by).pk)


def snapshot_build(*, snapshot_id: int) -> DatasetSnapshot:
    """Freezes a building snapshot's data into its directory (DATA_DIR/snapshots/<id>-<random>/) and
    marks it ready.

    Files: train.jsonl and eval.jsonl (split by a seeded hash of comparison_id), sft.jsonl when the
    projects have demonstrations, and manifest.json (counts, filters, split, sha256 per file). They
    are written to a temporary directory renamed into place at the end, so a crash leaves no
    half-written snapshot, then made read-only. snapshot.sha256 hashes the content (files, filters,
    split), so the same data with the same filters and seed gives the same sha256. A snapshot that is
    not building, or that another worker claimed (its heartbeat set), is returned as it is, so a
    redelivered task does nothing; a worker that dies mid-build is caught by training.jobs.reaping.
    """
    building = DatasetSnapshot.objects.filter(pk=snapshot_id, status=DatasetSnapshot.Status.BUILDING)
    if not building.filter(heartbeat_at__isnull=True).update(heartbeat_at=timezone.now()):
        return DatasetSnapshot.objects.get(pk=snapshot_id)
    snapshot = DatasetSnapshot.objects.get(pk=snapshot_id)
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
            temp,
            projects=projects,
            spec=spec,
            seed=split_seed,
            eval_fraction=eval_fraction,
            beat=_Heartbeat(building),
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


class _Heartbeat:
    """Renews a building snapshot's heartbeat at most every HEARTBEAT_S, however fast rows come."""

    def __init__(self, building: QuerySet[DatasetSnapshot]) -> None:
        self.building, self.last = building, time.monotonic()

    def __call__(self) -> None:
        if time.monotonic() - self.last >= HEARTBEAT_S:
            self.last = time.monotonic()
            self.building.update(heartbeat_at=timezone.now())


def _snapshot_files(
    directory: Path,
    *,
    projects: Sequence[Project],
    spec: ExportSpec,
    seed: int,
    eval_fraction: float,
    beat: Callable[[], None],
) -> dict[str, dict[str, Any]]:
    train, evaluation = JsonlWriter(directory / "train.jsonl"), JsonlWriter(directory / "eval.jsonl")
    for row in export_rows(projects=projects, spec=spec):
        beat()
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
    sft = JsonlWriter(directory / "sft.jsonl")
    for row in export_rows(projects=projects, spec=sft_spec):
        beat()
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


def snapshot_retry(*, snapshot: DatasetSnapshot) -> DatasetSnapshot:
    """Builds a failed snapshot again (a worker died, the disk was full): queues it as building.
    Raises Conflict unless it failed."""
    from training.tasks import snapshot_build as task

    with transaction.atomic():
        retried = DatasetSnapshot.objects.filter(pk=snapshot.pk, status=DatasetSnapshot.Status.FAILED).update(
            status=DatasetSnapshot.Status.BUILDING, error="", heartbeat_at=None, dispatched_at=None
        )
        snapshot.refresh_from_db()
        if not retried:
            raise Conflict(
                f"Only a failed snapshot can be built again; snapshot {snapshot.pk} is {snapshot.status}."
            )
        task_send_later(row=snapshot, task=task, queue="default")
    return snapshot
