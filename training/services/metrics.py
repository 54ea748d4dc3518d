"""A run's metrics: the engine's metrics.jsonl records stored as RunMetric rows, with progress and ETA."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from training.models import Run, RunMetric


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
