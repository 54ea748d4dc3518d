"""Agreement statistics, on hand-worked examples."""

from __future__ import annotations

import pytest

from annotation.quality.agreement import (
    FIRST,
    SECOND,
    TIE,
    agreement_score,
    consensus_ordering,
    majority_outcomes,
    ordering_pairs,
    pairwise_outcomes,
)


def test_pairwise_outcomes_of_a_ranking_with_a_tie() -> None:
    assert pairwise_outcomes([[3], [1, 2]]) == {(1, 2): TIE, (1, 3): SECOND, (2, 3): SECOND}


def test_three_annotators_two_agree_on_a_pair() -> None:
    # Annotator pairs: (1,2) agree, (1,3) and (2,3) do not: 1 of 3.
    assert agreement_score([[[1], [2]], [[1], [2]], [[2], [1]]]) == pytest.approx(1 / 3)


def test_unanimous_pairs_agree_fully() -> None:
    assert agreement_score([[[1], [2]], [[1], [2]]]) == 1.0


def test_a_tie_disagrees_with_a_preference() -> None:
    assert agreement_score([[[1, 2]], [[1], [2]]]) == 0.0


def test_agreement_pools_over_the_pairs_of_a_ranking() -> None:
    # a: 1>2>3, b: 1>3>2. Pairs (1,2) and (1,3) agree, (2,3) does not: 2 of 3 annotator pairs.
    assert agreement_score([[[1], [2], [3]], [[1], [3], [2]]]) == pytest.approx(2 / 3)


def test_one_judgment_has_no_measured_agreement() -> None:
    assert agreement_score([[[1], [2]]]) is None
    assert agreement_score([]) is None


def test_majority_needs_strictly_more_votes() -> None:
    assert majority_outcomes([[[1], [2]], [[1], [2]], [[2], [1]]]) == {(1, 2): FIRST}
    assert majority_outcomes([[[1], [2]], [[2], [1]]]) == {(1, 2): TIE}
    assert majority_outcomes([[[1], [2]], [[1, 2]]]) == {(1, 2): TIE}
    assert majority_outcomes([[[2], [1]], [[1, 2]], [[2], [1]]]) == {(1, 2): SECOND}


def test_consensus_of_rankings_by_copeland_score() -> None:
    orderings = [[[1], [2], [3]], [[2], [1], [3]], [[1], [3], [2]]]
    # Majorities: 1>2 (2 votes), 1>3 (3), 2>3 (2): scores 1:+2, 2:0, 3:-2.
    assert consensus_ordering(orderings) == [[1], [2], [3]]


def test_consensus_of_a_cycle_is_a_tie() -> None:
    orderings = [[[1], [2], [3]], [[2], [3], [1]], [[3], [1], [2]]]
    assert consensus_ordering(orderings) == [[1, 2, 3]]


def test_ranking_expands_to_all_or_adjacent_pairs() -> None:
    ranking = [[10], [20], [30]]
    assert ordering_pairs(ranking) == [(10, 20, False), (10, 30, False), (20, 30, False)]
    assert ordering_pairs(ranking, adjacent=True) == [(10, 20, False), (20, 30, False)]


def test_tied_candidates_pair_as_ties() -> None:
    assert ordering_pairs([[10, 20], [30]], adjacent=True) == [
        (10, 20, True),
        (10, 30, False),
        (20, 30, False),
    ]
