"""How a project's queue_order ranks its comparisons: plain functions on plain data, no ORM.

The queueing service stores the result in Comparison.priority, which the lease query already sorts by
(higher first, then fewest judgments, then oldest; index comparison_pool_order):
- uncertainty: a comparison's score gap under the chosen reward model (for three or four candidates the
  smallest gap between two of them). The smallest gap gets the highest priority; priorities are ranks,
  so they carry no score, and comparisons not fully scored get 0 (served after the scored ones).
- disagreement: how split the judgments are on the best candidates: DISAGREEMENT_SCALE × (1 − the
  largest share of judgments naming the same best tier). Fewer than two judgments disagree on nothing: 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

DISAGREEMENT_SCALE = 1000


def score_gap(scores: Sequence[float]) -> float:
    """The smallest difference between two of the scores (at least two are needed)."""
    if len(scores) < 2:
        raise ValueError("a score gap needs at least two scores")
    ordered = sorted(scores)
    return min(b - a for a, b in zip(ordered, ordered[1:], strict=False))


def uncertainty_order(gaps: Mapping[int, float]) -> list[int]:
    """Comparison ids, smallest score gap first (ties: lower id first)."""
    return sorted(gaps, key=lambda comparison_id: (gaps[comparison_id], comparison_id))


def uncertainty_priorities(gaps: Mapping[int, float]) -> dict[int, int]:
    """Priority per comparison id: len(gaps) for the smallest gap down to 1 for the largest."""
    order = uncertainty_order(gaps)
    return {comparison_id: len(order) - rank for rank, comparison_id in enumerate(order)}


def disagreement_priority(orderings: Iterable[Sequence[Sequence[int]]]) -> int:
    """The priority of a comparison from its judgments' orderings (tiers of candidate ids, best first)."""
    best = Counter(frozenset(ordering[0]) for ordering in orderings if ordering)
    total = sum(best.values())
    if total < 2:
        return 0
    return round(DISAGREEMENT_SCALE * (1 - max(best.values()) / total))
