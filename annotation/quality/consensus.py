"""Agreement between annotators on the same comparisons, read as candidate-pair relations.

A judgment of k candidates states a relation (+1, -1 or 0 for a tie) for each of its k(k-1)/2
candidate pairs, so pairwise choices and rankings are compared the same way. Judgments without an
annotator (imported ones) are not counted here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping
from itertools import combinations

from annotation.quality import fleiss, krippendorff
from annotation.quality.records import (
    STRENGTH_STEPS,
    JudgmentRecord,
    Relation,
    pair_relations,
    relation,
    tier_index,
)

# (comparison id, (candidate a, candidate b)) → {annotator id: relation}
PairVotes = dict[tuple[int, tuple[int, int]], dict[int, Relation]]

RELATIONS = (1, -1, 0)


def pair_votes(records: Iterable[JudgmentRecord]) -> PairVotes:
    votes: PairVotes = defaultdict(dict)
    for r in records:
        if r.annotator_id is None:
            continue
        for pair, rel in pair_relations(r.ordering):
            votes[r.comparison_id, pair][r.annotator_id] = rel
    return dict(votes)


def majority(relations: Iterable[Relation]) -> Relation | None:
    """The relation most annotators chose, or None when the top choices are level (or none voted)."""
    return _plurality(Counter(relations))


def _plurality(counts: Mapping[Relation, int]) -> Relation | None:
    top = max(counts.values(), default=0)
    leaders = [rel for rel, n in counts.items() if n == top]
    return leaders[0] if top > 0 and len(leaders) == 1 else None


def pairwise_agreement_rate(votes: PairVotes) -> float | None:
    """Of all pairs of annotators who judged the same candidate pair, the share who agreed."""
    agreed = total = 0
    for by_annotator in votes.values():
        for x, y in combinations(by_annotator.values(), 2):
            agreed += x == y
            total += 1
    return agreed / total if total else None


def fleiss_kappa(votes: PairVotes) -> float | None:
    """Fleiss' kappa with each judged candidate pair as an item and the relation as the category."""
    return fleiss.kappa(fleiss.choice_table((list(v.values()) for v in votes.values()), RELATIONS))


def alpha_nominal(votes: PairVotes) -> float | None:
    return krippendorff.alpha((list(v.values()) for v in votes.values()), level="nominal")


def alpha_ordinal(records: Iterable[JudgmentRecord]) -> float | None:
    """Ordinal alpha: a pairwise judgment is one value on the scale "first slot much better" … tie …
    "second slot much better" (the strength gives the steps); a ranking gives each candidate its tier."""
    units: dict[Hashable, list[int]] = defaultdict(list)
    for r in records:
        if r.annotator_id is None:
            continue
        if len(r.slots) == 2:
            rel = relation(r.ordering, *sorted(r.slots))
            if rel is None:
                continue
            step = 0 if rel == 0 else STRENGTH_STEPS.get(r.strength, 1)
            # Orient on slot order so that the sign means the same for every annotator.
            sign = rel if r.slots[0] < r.slots[1] else -rel
            units[r.comparison_id].append(sign * step)
        else:
            for candidate, tier in tier_index(r.ordering).items():
                units[r.comparison_id, candidate].append(tier)
    return krippendorff.alpha(units.values(), level="ordinal")


def agreement_with_consensus(votes: PairVotes) -> dict[int, tuple[int, int]]:
    """Per annotator: (agreed, counted) against the majority of the *other* annotators of each pair.

    Leaving the annotator out keeps a pair of two annotators from agreeing with themselves; pairs
    where the others are split evenly are not counted.
    """
    result: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for by_annotator in votes.values():
        if len(by_annotator) < 2:
            continue
        everyone = Counter(by_annotator.values())
        # The others' majority depends only on this annotator's own vote: everyone's less that one.
        without = {rel: _plurality({**everyone, rel: everyone[rel] - 1}) for rel in everyone}
        for annotator, rel in by_annotator.items():
            top = without[rel]
            if top is None:
                continue
            result[annotator][0] += rel == top
            result[annotator][1] += 1
    return {a: (agreed, counted) for a, (agreed, counted) in result.items()}
