"""Picks the device and precision a run trains with, from the spec and the machine, and checks what the
launcher (`accelerate launch` and its config) asks for against it."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

from training.engine.spec import JobSpec, SpecError


class LauncherError(RuntimeError):
    """The launcher asks for something this machine cannot do (DeepSpeed without the deepspeed package)."""


@dataclass(frozen=True)
class Hardware:
    device: str  # "cpu" or "cuda"
    precision: str  # "fp32", "bf16" or "fp16"

    @property
    def use_cpu(self) -> bool:
        return self.device == "cpu"

    def trainer_kwargs(self) -> dict:
        """TrainingArguments fields: TRL configs default to bf16, which fails or crawls on many machines."""
        return {
            "use_cpu": self.use_cpu,
            "bf16": self.precision == "bf16",
            "fp16": self.precision == "fp16",
            "report_to": "none",
        }


def hardware_resolve(spec: JobSpec) -> Hardware:
    """auto device: CUDA when available; auto precision: bf16 on a bf16-capable GPU, else fp32."""
    import torch

    cuda = torch.cuda.is_available()
    if spec.device == "cuda" and not cuda:
        raise SpecError("device", "cuda was asked for but no CUDA device is available")
    device = "cuda" if spec.device == "cuda" or (spec.device == "auto" and cuda) else "cpu"
    precision = spec.precision
    if precision == "auto":
        precision = "bf16" if device == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if precision == "fp16" and device != "cuda":
        raise SpecError("precision", "fp16 needs a CUDA device")
    return Hardware(device=device, precision=precision)


_ACCELERATE_PRECISION = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}


def launcher_apply(hardware: Hardware) -> str | None:
    """Makes the launcher's settings agree with the engine's; returns what the launcher had asked for when it
    was overridden (for the log), else None. Raises LauncherError when DeepSpeed is asked for but missing.

    `accelerate launch --config_file X.yaml` passes the config's mixed precision in
    ACCELERATE_MIXED_PRECISION, which transformers (and TRL's PPO) apply whenever the engine's own bf16/fp16
    flags are off: a bf16 config would make an fp32 run on CPU train in bf16 while result.json says fp32.
    The engine's precision wins.
    """
    if os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true":
        if importlib.util.find_spec("deepspeed") is None:
            raise LauncherError(
                "the launcher asks for DeepSpeed (ACCELERATE_USE_DEEPSPEED=true, set by a DeepSpeed "
                "accelerate config) but the deepspeed package is not installed: `pip install deepspeed` on "
                "the GPU nodes, or launch with training/engine/accelerate/multi_gpu.yaml"
            )
    wanted = _ACCELERATE_PRECISION[hardware.precision]
    asked = os.environ.get("ACCELERATE_MIXED_PRECISION")
    os.environ["ACCELERATE_MIXED_PRECISION"] = wanted
    return asked if asked not in (None, wanted) else None


def peak_memory_mb(hardware: Hardware) -> float:
    """Peak GPU memory allocated on CUDA; otherwise the process's peak resident set size."""
    if hardware.device == "cuda":
        import torch

        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
