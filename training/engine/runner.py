"""Runs one job: validates the spec, prepares data and hardware, trains through the method's backend
(training.engine.methods), and writes metrics.jsonl, engine.log, final/, model_card.md and result.json in
output_dir."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from training.engine.callbacks import MetricsCallback, MetricsWriter
from training.engine.card import card_render
from training.engine.data import data_load
from training.engine.hardware import Hardware, hardware_resolve, launcher_apply, peak_memory_mb
from training.engine.spec import JobSpec

log = logging.getLogger("training.engine")

SAMPLE_MAX_NEW_TOKENS = 32


_LOGGERS = ("training.engine", "transformers", "trl", "peft", "accelerate")


def _log_to(path: Path) -> logging.Handler:
    """Logs the engine and its libraries to `path`; in a distributed run each rank other than 0 gets its own
    engine.rank<N>.log beside it, so engine.log holds one process's lines, in order."""
    if not _is_main_process():
        path = path.with_name(f"{path.stem}.rank{os.environ['RANK']}{path.suffix}")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in _LOGGERS:
        logging.getLogger(name).addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _is_distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _sampling_dtype(hardware: Hardware) -> Any:
    """Half precision on GPUs so the extra copy used for samples stays small."""
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(hardware.precision, torch.float32)


def _samples_before(spec: JobSpec, hardware: Hardware) -> list[str] | None:
    if not spec.sample_prompts or spec.method == "reward":
        return None
    from training.engine.generation import generate
    from training.engine.loading import model_load_causal_lm, tokenizer_load

    tokenizer = tokenizer_load(spec.base_model)
    model = model_load_causal_lm(spec.base_model, dtype=_sampling_dtype(hardware)).to(hardware.device)
    texts = generate(
        model, tokenizer, spec.sample_prompts, max_new_tokens=SAMPLE_MAX_NEW_TOKENS, seed=spec.seed
    )
    del model
    if hardware.device == "cuda":
        import torch

        # The peak memory reported is training's, not this extra copy's.
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    return texts


def _samples_after(
    spec: JobSpec, hardware: Hardware, policy: Any, before: list[str] | None
) -> list[dict[str, Any]]:
    if before is None or policy is None:
        return []
    from training.engine.generation import generate
    from training.engine.loading import model_load_causal_lm, tokenizer_load

    final = Path(spec.output_dir) / "final"
    tokenizer = tokenizer_load(final)
    if _is_distributed():
        # The in-memory model may be sharded (ZeRO-3) and generating with it would wait on the other ranks,
        # which have finished; the saved final/ is complete.
        policy = model_load_causal_lm(final, dtype=_sampling_dtype(hardware)).to(hardware.device)
    after = generate(
        policy, tokenizer, spec.sample_prompts, max_new_tokens=SAMPLE_MAX_NEW_TOKENS, seed=spec.seed
    )
    return [
        {"prompt": p, "before": b, "after": a}
        for p, b, a in zip(spec.sample_prompts, before, after, strict=True)
    ]


class Terminated(Exception):
    """SIGTERM arrived (a cancelled run): raised inside training so the run still records its end."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(f"terminated by signal {signum}")


def run(spec: JobSpec, *, resume: bool = False) -> int:
    """Trains the job; returns 0 on success and 1 on failure (the failure is recorded in the outputs).

    A SpecError from hardware checks (e.g. cuda asked for on a CPU machine) propagates to the CLI (exit 2).
    """
    output = Path(spec.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    main = _is_main_process()
    if main and not resume:
        # A fresh run starts a fresh metrics file; a resumed one appends after the earlier attempt's lines.
        (output / "metrics.jsonl").unlink(missing_ok=True)
    writer = MetricsWriter(output / "metrics.jsonl")
    handler = _log_to(output / "engine.log")
    hardware = hardware_resolve(spec)
    started = time.time()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)
    result: dict[str, Any] = {
        "status": "failed",
        "method": spec.method,
        "final_metrics": {},
        "model_dir": "final",
        "samples": [],
        "seconds": 0.0,
        "peak_memory_mb": 0.0,
        "device": hardware.device,
        "precision": hardware.precision,
    }
    try:
        log.info("run %s on %s/%s (resume=%s)", spec.method, hardware.device, hardware.precision, resume)
        overridden = launcher_apply(hardware)
        if overridden:
            log.warning(
                "the launcher asked for mixed precision %s; the run uses %s (spec precision %s)",
                overridden,
                hardware.precision,
                spec.precision,
            )
        if main:
            (output / "spec.json").write_text(json.dumps(spec.to_dict(), indent=2))
        from training.engine.methods import backend_for

        backend = backend_for(spec.method)  # imports that method's trainer (TRL)
        splits = data_load(spec)
        log.info("data: %d train rows, %d eval rows", len(splits.train), len(splits.eval or []))
        before = _samples_before(spec, hardware) if main else None
        callback = MetricsCallback(writer if main else _NullWriter(), method=spec.method)
        outcome = backend.train(spec, hardware, splits, callback, resume=resume)
        result["final_metrics"] = outcome.final_metrics
        if main:
            result["samples"] = _samples_after(spec, hardware, outcome.policy, before)
        result["status"] = "succeeded"
        error = None
    except Exception as exc:  # every failure must end in an "end" line and result.json
        log.error("run failed: %s\n%s", exc, traceback.format_exc())
        error = f"{type(exc).__name__}: {exc}"
        result["error"] = error
    result["seconds"] = round(time.time() - started, 2)
    result["peak_memory_mb"] = peak_memory_mb(hardware)
    if main:
        (output / "result.json").write_text(json.dumps(result, indent=2, default=str))
        (output / "model_card.md").write_text(card_render(spec, result))
        writer.write({"event": "end", "status": result["status"], "error": error})
    log.info("run %s in %.1f s", result["status"], result["seconds"])
    # Every logger it was added to: a process running several jobs (the benches) must not keep writing
    # each job's logs into the earlier jobs' files.
    for name in _LOGGERS:
        logging.getLogger(name).removeHandler(handler)
    handler.close()
    return 0 if result["status"] == "succeeded" else 1


class _NullWriter(MetricsWriter):
    """Non-main ranks of a distributed run write no metrics (rank 0 writes them once)."""

    def __init__(self) -> None:
        pass

    def write(self, record: dict[str, Any]) -> None:
        return None
