"""Synthetic annotators with known behaviour, for demos and tests of quality control.

careful: ranks by the true order, swapping one adjacent pair of it in 10% of answers, at human
speed; random: a random order, fast; left: the order shown, which is position bias at its purest.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

BEHAVIOURS = ("careful", "random", "left")


def simulated_ordering(
    *, behaviour: str, shown: Sequence[int], truth: Sequence[int], rng: random.Random, accuracy: float = 0.9
) -> list[list[int]]:
    """The answer (tiers, best first, no ties) a synthetic annotator gives; `truth` is best first."""
    if behaviour == "careful":
        ranking = list(truth)
        if len(ranking) > 1 and rng.random() >= accuracy:
            i = rng.randrange(len(ranking) - 1)
            ranking[i], ranking[i + 1] = ranking[i + 1], ranking[i]
    elif behaviour == "random":
        ranking = rng.sample(list(shown), len(shown))
    elif behaviour == "left":
        ranking = list(shown)
    else:
        raise ValueError(f"Unknown behaviour {behaviour!r}; expected one of {BEHAVIOURS}.")
    return [[c] for c in ranking]


def simulated_time_ms(*, behaviour: str, rng: random.Random) -> int:
    return rng.randint(300, 1500) if behaviour == "random" else rng.randint(4000, 20000)


def true_order(
    *,
    slots: Sequence[int],
    models: dict[int, str],
    quality_order: Sequence[str],
    gold: Sequence[Sequence[int]] | None,
) -> list[int]:
    """Candidate ids best first: the gold ordering if there is one, else by the prompt's
    `quality_order` of model names (unknown models last), else the slot order."""
    if gold:
        return [c for tier in gold for c in tier]
    rank = {name: i for i, name in enumerate(quality_order)}
    return sorted(slots, key=lambda c: (rank.get(models.get(c, ""), len(rank)), slots.index(c)))
