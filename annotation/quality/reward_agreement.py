"""A reward model's verdicts beside the human judgments: plain functions on plain data, no ORM.

Per comparison: the candidate the reward model prefers (highest score) and by how much (its score minus
the next best), the human choice (the plurality of the judgments' best tiers, where a tie counts as its
own outcome; none when the plurality is a tie or level), and the margin against the humans: the human
choice's score minus the best score among the others. A negative margin is the reward model disagreeing,
by that many score points; the report lists the largest disagreements first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

TIE = "tie"


def human_choice(orderings: Iterable[Sequence[Sequence[int]]]) -> int | None:
    """The candidate most judgments rank alone at the top, if it leads every other outcome (ties included)."""
    outcomes = Counter(ordering[0][0] if len(ordering[0]) == 1 else TIE for ordering in orderings if ordering)
    if not outcomes:
        return None
    (leader, top), *rest = outcomes.most_common()
    if leader == TIE or (rest and rest[0][1] == top):
        return None
    return leader


@dataclass(frozen=True)
class Verdict:
    comparison_id: int
    candidate_ids: tuple[int, ...]  # in slot order
    scores: tuple[float, ...]  # the reward model's, in slot order
    votes: tuple[int, ...]  # judgments ranking each candidate alone at the top, in slot order
    judgments: int
    rm_choice: int
    rm_margin: float
    human: int | None
    margin_vs_humans: float | None

    @property
    def agrees(self) -> bool | None:
        return None if self.human is None else self.rm_choice == self.human


def verdict(
    *,
    comparison_id: int,
    candidate_ids: Sequence[int],
    scores: Mapping[int, float],
    orderings: Sequence[Sequence[Sequence[int]]],
) -> Verdict:
    """The verdict on one comparison whose candidates all have a score."""
    values = tuple(scores[c] for c in candidate_ids)
    ranked = sorted(zip(values, candidate_ids, strict=True), reverse=True)
    human = human_choice(orderings)
    margin = None
    if human is not None:
        margin = scores[human] - max(scores[c] for c in candidate_ids if c != human)
    best = Counter(o[0][0] for o in orderings if o and len(o[0]) == 1)
    return Verdict(
        comparison_id=comparison_id,
        candidate_ids=tuple(candidate_ids),
        scores=values,
        votes=tuple(best[c] for c in candidate_ids),
        judgments=len(orderings),
        rm_choice=ranked[0][1],
        rm_margin=ranked[0][0] - ranked[1][0],
        human=human,
        margin_vs_humans=margin,
    )


def report_order(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """Those with a human choice first, the most negative margin against it first (the largest
    disagreements, then the narrowest agreements); then those without a human choice, by comparison."""
    return sorted(
        verdicts,
        key=lambda v: (v.margin_vs_humans is None, v.margin_vs_humans or 0.0, v.comparison_id),
    )
