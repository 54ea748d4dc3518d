"""The method backends: one module per training method behind one interface, as LLaMA-Factory's
train/<method>/workflow.py behind train/tuner.py. The runner trains with
`backend_for(spec.method).train(...)`.

This package is the only part of the engine that imports TRL, so moving off it (an own PPO, OpenRLHF for
large clusters) touches these modules only. A method's module, and so its TRL trainer, is imported when a
run of that method starts, not before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from training.engine.callbacks import MetricsCallback
    from training.engine.data import Splits
    from training.engine.hardware import Hardware
    from training.engine.methods.common import TrainOutcome
    from training.engine.spec import JobSpec


class MethodBackend(Protocol):
    """What each method module (sft, reward, dpo, ppo, rloo) provides."""

    def train(
        self, spec: JobSpec, hardware: Hardware, splits: Splits, callback: MetricsCallback, *, resume: bool
    ) -> TrainOutcome:
        """Trains `spec` on `splits`, writes output_dir/final and returns the final metrics and the trained
        policy. With `resume`, continues from the newest complete checkpoint in output_dir/checkpoints."""
        ...


# Method name (spec.METHODS) → its module, imported on first use.
_BACKENDS = {
    "sft": "training.engine.methods.sft",
    "reward": "training.engine.methods.reward",
    "dpo": "training.engine.methods.dpo",
    "ppo": "training.engine.methods.ppo",
    "rloo": "training.engine.methods.rloo",
}


def backend_for(method: str) -> MethodBackend:
    """The backend of `method`, a name in spec.METHODS (KeyError otherwise)."""
    return cast("MethodBackend", importlib.import_module(_BACKENDS[method]))
