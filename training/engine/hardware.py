"""Picks the device and precision a run trains with, from the spec and the machine."""

from __future__ import annotations

from dataclasses import dataclass

from training.engine.spec import JobSpec, SpecError


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


def peak_memory_mb(hardware: Hardware) -> float:
    """Peak GPU memory allocated on CUDA; otherwise the process's peak resident set size."""
    if hardware.device == "cuda":
        import torch

        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
