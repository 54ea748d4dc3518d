"""Agreement statistics on judgments, as plain functions on orderings (no ORM).

An ordering is a list of tiers, best first; each tier lists candidate ids judged equal:
[[a], [b]] says a beats b, [[a, b]] is a tie, [[a], [b, c], [d]] a ranking with a tie in it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import combinations

Ordering = Sequence[Sequence[int]]
Pair = tuple[int, int]

# Outcome of a candidate pair (a, b) with a < b: the first wins, the second wins, or a tie.
FIRST, TIE, SECOND = 1, 0, -1


def pairwise_outcomes(ordering: Ordering) -> dict[Pair, int]:
    """Each candidate pair (smaller id first) mapped to FIRST, SECOND or TIE."""
    rank = {candidate: tier for tier, members in enumerate(ordering) for candidate in members}
    outcomes: dict[Pair, int] = {}
    for a, b in combinations(sorted(rank), 2):
        if rank[a] == rank[b]:
            outcomes[(a, b)] = TIE
        else:
            outcomes[(a, b)] = FIRST if rank[a] < rank[b] else SECOND
    return outcomes


def agreement_score(orderings: Iterable[Ordering]) -> float | None:
    """Share of annotator pairs that agree on a pairwise outcome, pooled over candidate pairs.

    For each candidate pair judged by n annotators, n(n-1)/2 annotator pairs are counted and those
    giving the same outcome (win, loss or tie) agree. Returns None when no candidate pair was judged
    by two annotators, since agreement is then unmeasured (not perfect).
    """
    votes: dict[Pair, Counter[int]] = {}
    for ordering in orderings:
        for pair, outcome in pairwise_outcomes(ordering).items():
            votes.setdefault(pair, Counter())[outcome] += 1
    agreeing = total = 0
    for counter in votes.values():
        n = sum(counter.values())
        total += n * (n - 1) // 2
        agreeing += sum(c * (c - 1) // 2 for c in counter.values())
    return agreeing / total if total else None


def majority_outcomes(orderings: Iterable[Ordering]) -> dict[Pair, int]:
    """Each candidate pair's majority outcome.

    A pair gets a winner only when that outcome has strictly more votes than each of the other two;
    any draw at the top (one vote each way, or a win against a tie) is a TIE, the cautious reading.
    """
    votes: dict[Pair, Counter[int]] = {}
    for ordering in orderings:
        for pair, outcome in pairwise_outcomes(ordering).items():
            votes.setdefault(pair, Counter())[outcome] += 1
    result: dict[Pair, int] = {}
    for pair, counter in votes.items():
        top = max(counter.values())
        leaders = [outcome for outcome, count in counter.items() if count == top]
        result[pair] = leaders[0] if len(leaders) == 1 else TIE
    return result


def consensus_ordering(orderings: Iterable[Ordering]) -> list[list[int]]:
    """The comparison's consensus as tiers, by Copeland score over majority outcomes.

    Each candidate scores (majority wins - majority losses); candidates with equal scores share a
    tier, so a cycle (a > b > c > a) becomes one three-way tie rather than an arbitrary order.
    Within a tier candidates are sorted by id. Returns [] for no orderings.
    """
    majorities = majority_outcomes(orderings)
    score: Counter[int] = Counter()
    for (a, b), outcome in majorities.items():
        score[a] += outcome
        score[b] -= outcome
    tiers: dict[int, list[int]] = {}
    for candidate in sorted(score):
        tiers.setdefault(score[candidate], []).append(candidate)
    return [tiers[s] for s in sorted(tiers, reverse=True)]


def ordering_pairs(ordering: Ordering, *, adjacent: bool = False) -> list[tuple[int, int, bool]]:
    """An ordering expanded to (better, worse, tie) pairs, in a stable order.

    With adjacent=False every candidate in a tier is paired with every candidate in each later
    tier; with adjacent=True only with those in the next tier. Candidates that share a tier give
    (a, b, True) pairs in both modes. Order follows the tiers, then the order within each tier.
    """
    if len(ordering) == 2 and len(ordering[0]) == len(ordering[1]) == 1:
        return [(ordering[0][0], ordering[1][0], False)]  # a pair judged without a tie: most rows
    pairs: list[tuple[int, int, bool]] = []
    for i, tier in enumerate(ordering):
        pairs.extend((a, b, True) for a, b in combinations(tier, 2))
        later = ordering[i + 1 : i + 2] if adjacent else ordering[i + 1 :]
        for worse_tier in later:
            pairs.extend((a, b, False) for a in tier for b in worse_tier)
    return pairs
