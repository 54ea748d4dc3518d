"""Read queries for a run's metrics."""

from __future__ import annotations

from training.models import (
    Run,
    RunMetric,
)


def run_metrics(*, run: Run, after_step: int = -1) -> list[dict]:
    """The run's metric records after `after_step` (train and eval), in step order."""
    rows = RunMetric.objects.filter(run=run, step__gt=after_step).order_by("step", "kind")
    return [
        {"step": step, "kind": kind, **data} for step, kind, data in rows.values_list("step", "kind", "data")
    ]
