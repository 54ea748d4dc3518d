"""The plain records the statistics take, and how an ordering reads as pairwise relations.

An ordering is a list of tiers of candidate ids, best first; candidates in one tier are tied:
[[a], [b]] means a beat b, [[a, b]] is a tie.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import combinations
from typing import NamedTuple

Ordering = Sequence[Sequence[int]]

# A relation between candidates a < b (by id): +1 a is preferred, -1 b is preferred, 0 tie.
Relation = int

STRENGTH_STEPS = {"": 1, "slightly": 1, "clearly": 2, "much": 3}


class JudgmentRecord(NamedTuple):
    """One submitted judgment, reduced to what quality control needs (a tuple: cheap to make by
    the hundred thousand). `annotator_id` is None for imported judgments."""

    comparison_id: int
    annotator_id: int | None
    ordering: tuple[tuple[int, ...], ...]
    # Candidate ids of the comparison in slot order (the stored order, not the shown one).
    slots: tuple[int, ...]
    presented_order: tuple[int, ...] = ()
    strength: str = ""
    time_spent_ms: int = 0
    day: str = ""  # ISO date of submission, for the judgments-over-time chart
    # Candidate id → source model name; shared by the judgments of one comparison.
    models: Mapping[int, str] | None = None


def make_ordering(tiers: Sequence[Sequence[int]]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(c) for c in tier) for tier in tiers)


def tier_index(ordering: Ordering) -> dict[int, int]:
    """Candidate id → its tier (0 = best)."""
    return {c: i for i, tier in enumerate(ordering) for c in tier}


def relation(ordering: Ordering, a: int, b: int) -> Relation | None:
    """+1 when a ranks above b, -1 below, 0 tied; None if either is missing from the ordering."""
    tier_a = tier_b = None
    for i, tier in enumerate(ordering):
        if a in tier:
            tier_a = i
        if b in tier:
            tier_b = i
    if tier_a is None or tier_b is None:
        return None
    return (tier_a < tier_b) - (tier_a > tier_b)


def pair_relations(ordering: Ordering) -> Iterator[tuple[tuple[int, int], Relation]]:
    """Every candidate pair (a, b) with a < b and its relation; a ranking of k gives k(k-1)/2 pairs."""
    if len(ordering) == 2 and len(ordering[0]) == 1 and len(ordering[1]) == 1:
        # The common case, a decided pair, without building the tier index.
        (winner,), (loser,) = ordering
        yield ((winner, loser), 1) if winner < loser else ((loser, winner), -1)
        return
    tiers = tier_index(ordering)
    for a, b in combinations(sorted(tiers), 2):
        yield (a, b), (tiers[a] < tiers[b]) - (tiers[a] > tiers[b])


def has_tie(ordering: Ordering) -> bool:
    return any(len(tier) > 1 for tier in ordering)
