"""Position bias: how often the first-shown candidate wins, against 0.5, with an exact binomial test.

For a ranking the test looks at the first two candidates shown: with no bias either is as likely
to be ranked above the other. Ties say nothing about position and are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from annotation.quality.records import Ordering, relation


@dataclass(frozen=True)
class PositionBias:
    first_wins: int
    decided: int  # judgments where the first two shown candidates were not tied
    rate: float | None  # first_wins / decided
    p_value: float | None  # exact two-sided binomial test against 0.5


def first_shown_wins(ordering: Ordering, presented_order: Sequence[int]) -> bool | None:
    """Whether the first-shown candidate ranked above the second-shown; None for a tie or unknown order."""
    if len(presented_order) < 2:
        return None
    r = relation(ordering, presented_order[0], presented_order[1])
    return None if not r else r > 0


def binomial_test(k: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided p-value of k successes in n trials: the total probability of every outcome
    no likelier than the observed one (the rule scipy.stats.binomtest uses)."""
    if not 0 <= k <= n:
        raise ValueError("Need 0 <= k <= n.")
    if n == 0:
        return 1.0
    if p in (0.0, 1.0):
        return 1.0 if k == n * p else 0.0
    log_pmf = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * math.log(p)
        + (n - i) * math.log1p(-p)
        for i in range(n + 1)
    ]
    # A relative tolerance so that outcomes exactly as likely (the mirror image at p = 0.5) count.
    threshold = log_pmf[k] + 1e-7
    return min(1.0, math.fsum(math.exp(lp) for lp in log_pmf if lp <= threshold))


def position_bias(judgments: Iterable[tuple[Ordering, Sequence[int]]]) -> PositionBias:
    """Bias over (ordering, presented_order) pairs."""
    outcomes = [first_shown_wins(o, shown) for o, shown in judgments]
    decided = [w for w in outcomes if w is not None]
    wins = sum(decided)
    if not decided:
        return PositionBias(first_wins=0, decided=0, rate=None, p_value=None)
    return PositionBias(
        first_wins=wins,
        decided=len(decided),
        rate=wins / len(decided),
        p_value=binomial_test(wins, len(decided)),
    )
