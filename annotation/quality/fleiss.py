"""Fleiss' kappa for categorical choices (for pairwise judgments: first slot, second slot, tie)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence


def kappa(table: Sequence[Sequence[int]]) -> float | None:
    """Kappa from an items × categories table of how many raters chose each category.

    Items may have different numbers of raters (the usual generalisation: each item's agreement
    is over its own rater pairs, category shares over all ratings); items with fewer than two
    raters are left out. Returns None when there is nothing to compare or chance agreement is 1.
    """
    rows = [row for row in table if sum(row) >= 2]
    if not rows:
        return None
    total = sum(sum(row) for row in rows)
    shares = [sum(row[j] for row in rows) / total for j in range(len(rows[0]))]
    observed = sum((sum(x * x for x in row) - sum(row)) / (sum(row) * (sum(row) - 1)) for row in rows) / len(
        rows
    )
    expected = sum(p * p for p in shares)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def choice_table(items: Iterable[Sequence[Hashable]], categories: Sequence[Hashable]) -> list[list[int]]:
    """The counts table for `kappa` from each item's list of chosen categories."""
    table = []
    for choices in items:
        counts = Counter(choices)
        unknown = set(counts) - set(categories)
        if unknown:
            raise ValueError(f"Choices outside the categories: {sorted(map(str, unknown))}.")
        table.append([counts[c] for c in categories])
    return table
