"""Which candidates of one prompt go into which comparison: plain functions on indexes, no ORM.

Every function takes the number of candidates `n` (their indexes 0..n-1 in a stable order) and
returns tuples of indexes, each tuple one comparison with its candidates in slot order. The
results are deterministic, so re-running them on the same candidates finds the same comparisons.
"""

from __future__ import annotations

import math

PAIRING_STRATEGIES = ("all_pairs", "adjacent", "first_vs_rest")


def pairs(n: int, strategy: str = "all_pairs") -> list[tuple[int, int]]:
    """Pairs of candidate indexes for a pairwise project.

    all_pairs: every pair (i, j) with i < j, n·(n−1)/2 comparisons.
    adjacent: neighbours in a ring (0,1), (1,2), …, (n−1,0): n comparisons (one when n == 2) that
        still connect every candidate, which is enough for a Bradley–Terry fit.
    first_vs_rest: the first candidate (a reference, e.g. the current model) against each other one.
    """
    if strategy not in PAIRING_STRATEGIES:
        raise ValueError(f"unknown pairing strategy {strategy!r}")
    if n < 2:
        return []
    if strategy == "all_pairs":
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    if strategy == "first_vs_rest":
        return [(0, j) for j in range(1, n)]
    if n == 2:
        return [(0, 1)]
    return [(i, (i + 1) % n) for i in range(n)]


def ranking_groups(n: int, k: int) -> list[tuple[int, ...]]:
    """Groups of k candidate indexes for a ranking project.

    n < 2: nothing to compare. 2 <= n <= k: one comparison of all n candidates (a prompt with fewer
    candidates than the project ranks is still ranked, over what it has).
    n > k: a chain of overlapping windows of k consecutive indexes, each starting where the last
    one ended, wrapping round to fill the last window: ceil((n−1)/(k−1)) comparisons, every
    candidate in at least one, and consecutive windows sharing one candidate so that all rankings
    connect. n=5, k=3 → (0,1,2), (2,3,4); n=6, k=3 → (0,1,2), (2,3,4), (4,5,0).
    """
    if k < 2:
        raise ValueError("a ranking compares at least 2 candidates")
    if n < 2:
        return []
    if n <= k:
        return [tuple(range(n))]
    count = math.ceil((n - 1) / (k - 1))
    return [tuple((g * (k - 1) + j) % n for j in range(k)) for g in range(count)]


def comparison_groups(*, n: int, mode: str, pairing: str, k: int) -> list[tuple[int, ...]]:
    """The comparisons for n candidates under a project's mode ("pairwise" or "ranking")."""
    if mode == "pairwise":
        return list(pairs(n, pairing))
    if mode == "ranking":
        return ranking_groups(n, k)
    raise ValueError(f"unknown project mode {mode!r}")
