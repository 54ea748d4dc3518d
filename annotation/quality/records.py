"""The plain records the statistics take, and how an ordering reads as pairwise relations.

An ordering is a list of tiers of candidate ids, best first; candidates in one tier are tied:
[[a], [b]] means a beat b, [[a, b]] is a tie.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations

Ordering = Sequence[Sequence[int]]

# A relation between candidates a < b (by id): +1 a is preferred, -1 b is preferred, 0 tie.
Relation = int

STRENGTH_STEPS = {"": 1, "slightly": 1, "clearly": 2, "much": 3}


@dataclass(frozen=True)
class JudgmentRecord:
    """One submitted judgment, reduced to what quality control needs."""

    comparison_id: int
    annotator_id: int
    ordering: tuple[tuple[int, ...], ...]
    # Candidate ids of the comparison in slot order (the stored order, not the shown one).
    slots: tuple[int, ...]
    presented_order: tuple[int, ...] = ()
    strength: str = ""
    time_spent_ms: int = 0
    day: str = ""  # ISO date of submission, for the judgments-over-time chart
    models: dict[int, str] = field(default_factory=dict, hash=False, compare=False)


def make_ordering(tiers: Sequence[Sequence[int]]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(c) for c in tier) for tier in tiers)


def tier_index(ordering: Ordering) -> dict[int, int]:
    """Candidate id → its tier (0 = best)."""
    return {c: i for i, tier in enumerate(ordering) for c in tier}


def relation(ordering: Ordering, a: int, b: int) -> Relation | None:
    """+1 when a ranks above b, -1 below, 0 tied; None if either is missing from the ordering."""
    tiers = tier_index(ordering)
    if a not in tiers or b not in tiers:
        return None
    return (tiers[a] < tiers[b]) - (tiers[a] > tiers[b])


def pair_relations(ordering: Ordering) -> Iterator[tuple[tuple[int, int], Relation]]:
    """Every candidate pair (a, b) with a < b and its relation; a ranking of k gives k(k-1)/2 pairs."""
    tiers = tier_index(ordering)
    for a, b in combinations(sorted(tiers), 2):
        yield (a, b), (tiers[a] < tiers[b]) - (tiers[a] > tiers[b])


def has_tie(ordering: Ordering) -> bool:
    return any(len(tier) > 1 for tier in ordering)
