"""The reward model beside the human judgments, on hand-worked comparisons."""

from __future__ import annotations

import pytest

from annotation.quality.reward_agreement import human_choice, report_order, verdict


def test_human_choice_is_a_strict_plurality_of_single_best_candidates() -> None:
    assert human_choice([]) is None
    assert human_choice([[[1], [2]], [[1], [2]], [[2], [1]]]) == 1
    assert human_choice([[[1], [2]], [[2], [1]]]) is None  # level
    assert human_choice([[[1, 2]], [[1, 2]], [[1], [2]]]) is None  # most call it a tie
    assert human_choice([[[3], [1], [2]], [[3], [2, 1]], [[1], [2], [3]]]) == 3


def test_verdict_margins_and_agreement() -> None:
    scores = {1: 0.5, 2: 2.0, 3: 1.5}
    against = verdict(comparison_id=7, candidate_ids=[1, 2], scores=scores, orderings=[[[1], [2]]] * 2)
    assert (against.rm_choice, against.human, against.agrees) == (2, 1, False)
    assert against.rm_margin == pytest.approx(1.5) and against.margin_vs_humans == pytest.approx(-1.5)
    assert (against.scores, against.votes, against.judgments) == ((0.5, 2.0), (2, 0), 2)

    ranked = verdict(comparison_id=8, candidate_ids=[1, 2, 3], scores=scores, orderings=[[[2], [3], [1]]])
    assert ranked.agrees and ranked.rm_margin == pytest.approx(0.5)
    assert ranked.margin_vs_humans == pytest.approx(0.5)

    split = verdict(comparison_id=9, candidate_ids=[3, 1], scores=scores, orderings=[[[3], [1]], [[1], [3]]])
    assert split.human is None and split.agrees is None and split.margin_vs_humans is None


def test_report_lists_the_largest_disagreement_first() -> None:
    scores = {1: 0.0, 2: 1.0, 3: 0.0, 4: 3.0, 5: 2.0, 6: 0.0}
    votes = [[[1], [2]]]  # the first candidate of each pair wins
    mild = verdict(comparison_id=1, candidate_ids=[1, 2], scores=scores, orderings=votes)
    strong = verdict(comparison_id=2, candidate_ids=[3, 4], scores=scores, orderings=[[[3], [4]]])
    agree = verdict(comparison_id=3, candidate_ids=[5, 6], scores=scores, orderings=[[[5], [6]]])
    unknown = verdict(comparison_id=4, candidate_ids=[5, 6], scores=scores, orderings=[[[5, 6]]])
    assert [v.comparison_id for v in report_order([agree, unknown, mild, strong])] == [2, 1, 3, 4]
