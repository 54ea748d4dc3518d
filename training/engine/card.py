"""The model card written next to every run's outputs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from training.engine.data import prompt_text
from training.engine.spec import JobSpec


def code_revision() -> str:
    """RANKWISE_CODE_REVISION if set (deployments without .git), else the git commit, else "unknown"."""
    if os.environ.get("RANKWISE_CODE_REVISION"):
        return os.environ["RANKWISE_CODE_REVISION"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def card_render(spec: JobSpec, result: dict[str, Any]) -> str:
    """Markdown: base model, method, data snapshot, hyperparameters, code revision, metrics, samples."""
    snapshot = spec.snapshot or {}
    lora = json.dumps(spec.lora.model_dump()) if spec.lora.enabled else "off (full fine-tuning)"
    lines = [
        f"# {spec.method.upper()} model trained with Rankwise",
        "",
        f"- **Method:** {spec.method}",
        f"- **Base model:** `{spec.base_model}`",
    ]
    if spec.reward_model:
        lines.append(f"- **Reward model:** `{spec.reward_model}`")
    lines += [
        f"- **Dataset snapshot:** {snapshot.get('id', 'none')} (sha256 `{snapshot.get('sha256', '-')}`)",
        f"- **Training file:** `{spec.train_file}`",
        f"- **LoRA:** {lora}",
        f"- **Seed:** {spec.seed}; **precision:** {result.get('precision')};"
        f" **device:** {result.get('device')}",
        f"- **Code revision:** `{code_revision()}`",
        f"- **Status:** {result['status']} in {_fmt(result.get('seconds', 0))} s,"
        f" peak memory {_fmt(result.get('peak_memory_mb', 0))} MB",
        "",
        "## Hyperparameters",
        "",
        "| name | value |",
        "| --- | --- |",
        *(f"| {k} | {_fmt(v)} |" for k, v in sorted(spec.hp.items())),
        "",
        "## Final metrics",
        "",
        "| metric | value |",
        "| --- | --- |",
        *(f"| {k} | {_fmt(v)} |" for k, v in sorted(result.get("final_metrics", {}).items())),
    ]
    samples = result.get("samples") or []
    if samples:
        lines += ["", "## Samples (greedy, before → after training)", ""]
        for sample in samples:
            lines += [
                f"**Prompt:** {prompt_text(sample['prompt'])}",
                "",
                f"- before: {sample['before']!r}",
                f"- after: {sample['after']!r}",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"
