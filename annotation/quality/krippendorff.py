"""Krippendorff's alpha for nominal, ordinal and interval data, with missing values.

Written out (rather than calling the `krippendorff` package at run time) so that units can be
given as plain lists of values of any sortable type; the tests cross-check it against that package.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from itertools import combinations, product
from typing import Literal

Level = Literal["nominal", "ordinal", "interval"]


def alpha(units: Iterable[Sequence[Hashable | None]], *, level: Level = "ordinal") -> float | None:
    """Alpha over units, each the list of values its coders gave (None = no value).

    Units with fewer than two values are not pairable and are left out. Returns None when there
    is no disagreement to expect (fewer than two pairable values, or only one value used), since
    alpha is undefined there.
    """
    # Units holding the same values add the same coincidences: count each such multiset once.
    multisets = Counter(tuple(sorted(Counter(v for v in unit if v is not None).items())) for unit in units)
    coincidence: Counter[tuple[Hashable, Hashable]] = Counter()
    for pairs_of_values, times in multisets.items():
        counts = dict(pairs_of_values)
        m = sum(counts.values())
        if m < 2:
            continue
        for c, k in product(counts, repeat=2):
            pairs = counts[c] * (counts[c] - 1) if c == k else counts[c] * counts[k]
            coincidence[c, k] += times * pairs / (m - 1)
    totals: Counter[Hashable] = Counter()
    for (c, _k), o in coincidence.items():
        totals[c] += o
    n = sum(totals.values())
    values = sorted(totals)
    if n < 2 or len(values) < 2:
        return None
    delta = _distance(values, totals, level)
    observed = sum(o * delta[c, k] for (c, k), o in coincidence.items())
    expected = sum(totals[c] * totals[k] * delta[c, k] for c, k in product(values, repeat=2)) / (n - 1)
    return 1.0 - observed / expected


def _distance(
    values: list[Hashable], totals: Counter[Hashable], level: Level
) -> dict[tuple[Hashable, Hashable], float]:
    """Squared distance δ² between every two values at this level of measurement."""
    delta: dict[tuple[Hashable, Hashable], float] = {(v, v): 0.0 for v in values}
    for (i, c), (j, k) in combinations(enumerate(values), 2):
        if level == "nominal":
            d = 1.0
        elif level == "ordinal":
            # Krippendorff's ordinal metric: the mass of values from c to k, halving both ends.
            d = (sum(totals[g] for g in values[i : j + 1]) - (totals[c] + totals[k]) / 2) ** 2
        elif level == "interval":
            d = float(c - k) ** 2  # type: ignore[operator]
        else:
            raise ValueError(f"Unknown level of measurement {level!r}.")
        delta[c, k] = delta[k, c] = d
    return delta
