"""The queue-order rules on hand-worked examples: score gaps, uncertainty ranks, disagreement."""

from __future__ import annotations

import pytest

from annotation.quality.ordering import (
    disagreement_priority,
    score_gap,
    uncertainty_order,
    uncertainty_priorities,
)


def test_score_gap_is_the_smallest_difference_between_two_candidates() -> None:
    assert score_gap([1.0, -0.5]) == pytest.approx(1.5)
    assert score_gap([0.1, 2.0, 0.3, 5.0]) == pytest.approx(0.2)
    with pytest.raises(ValueError):
        score_gap([1.0])


def test_smallest_gap_gets_the_highest_priority_ties_by_id() -> None:
    gaps = {10: 0.9, 11: 0.05, 12: 0.4, 13: 0.05}
    assert uncertainty_order(gaps) == [11, 13, 12, 10]
    assert uncertainty_priorities(gaps) == {11: 4, 13: 3, 12: 2, 10: 1}
    assert uncertainty_priorities({}) == {}


def test_disagreement_counts_split_votes_on_the_best_tier() -> None:
    a, b, c = 1, 2, 3
    assert disagreement_priority([]) == 0
    assert disagreement_priority([[[a], [b]]]) == 0  # one judgment cannot disagree
    assert disagreement_priority([[[a], [b]], [[a], [b]]]) == 0
    assert disagreement_priority([[[a], [b]], [[b], [a]]]) == 500
    assert disagreement_priority([[[a], [b]], [[b], [a]], [[a], [b]]]) == 333
    assert disagreement_priority([[[a], [b]], [[b], [a]], [[a, b]]]) == 667  # a tie is its own outcome
    assert disagreement_priority([[[a], [b, c]], [[a], [c], [b]]]) == 0  # same best candidate in a ranking
