"""Annotator scores on hand-worked judgments and on synthetic annotators with known behaviour."""

from __future__ import annotations

import random

import pytest

from annotation.quality import consensus
from annotation.quality.annotators import Thresholds, annotator_scores, gold_matches
from annotation.quality.records import JudgmentRecord, make_ordering


def _judgment(
    comparison: int, annotator: int, tiers: list[list[int]], shown: list[int], **extra
) -> JudgmentRecord:
    slots = tuple(sorted(c for tier in tiers for c in tier))
    return JudgmentRecord(
        comparison_id=comparison,
        annotator_id=annotator,
        ordering=make_ordering(tiers),
        slots=slots,
        presented_order=tuple(shown),
        **extra,
    )


def test_small_example_by_hand() -> None:
    # Comparison 1 (candidates 10, 11): annotators 1 and 2 prefer 10, annotator 3 prefers 11.
    # Comparison 2 (20, 21): 1 prefers 20, 2 calls a tie; 3 did not judge it.
    records = [
        _judgment(1, 1, [[10], [11]], [10, 11], time_spent_ms=4000),
        _judgment(1, 2, [[10], [11]], [11, 10], time_spent_ms=6000),
        _judgment(1, 3, [[11], [10]], [10, 11], time_spent_ms=1000),
        _judgment(2, 1, [[20], [21]], [21, 20], time_spent_ms=8000),
        _judgment(2, 2, [[20, 21]], [20, 21], time_spent_ms=2000),
    ]
    votes = consensus.pair_votes(records)
    # Annotator pairs: comparison 1 → (1,2) agree, (1,3) and (2,3) disagree; comparison 2 → disagree.
    assert consensus.pairwise_agreement_rate(votes) == pytest.approx(1 / 4)
    # Leave-one-out majorities: in comparison 1, 1 faces {2: 10, 3: 11} (level, not counted), 2 likewise,
    # 3 faces {10, 10} and disagrees; comparison 2 has one other voter each, who disagrees.
    assert consensus.agreement_with_consensus(votes) == {1: (0, 1), 2: (0, 1), 3: (0, 1)}
    scores = {
        s.annotator_id: s for s in annotator_scores(records, gold={1: [[10], [11]]}, skips={3: 1, 4: 2})
    }
    assert scores[1].gold_accuracy == 1.0 and scores[3].gold_accuracy == 0.0 and scores[3].gold_pairs == 1
    assert scores[1].median_seconds == 6.0
    assert scores[2].tie_rate == 0.5
    assert scores[3].skip_rate == 0.5
    assert scores[4].judgments == 0 and scores[4].skip_rate == 1.0
    # First shown won for annotator 1 in comparison 1, lost in comparison 2.
    assert (scores[1].position_bias.first_wins, scores[1].position_bias.decided) == (1, 2)
    # Too few items to flag anyone.
    assert all(not s.flags for s in scores.values())


def test_gold_matches_counts_candidate_pairs_of_a_ranking() -> None:
    assert gold_matches([[1], [2], [3]], [[1], [3], [2]]) == (2, 3)
    assert gold_matches([[1, 2]], [[1], [2]]) == (0, 1)


def _synthetic(seed: int = 42) -> tuple[list[JudgmentRecord], dict[int, list[list[int]]]]:
    """Five annotators judge the same 80 pairwise comparisons, in a random shown order each.

    1–3 are careful (right 90% of the time, ~8 s), 4 clicks at random (~1.5 s), 5 always picks
    the left (first-shown) candidate (~1.5 s). A quarter of the comparisons are gold.
    """
    rng = random.Random(seed)
    records = []
    gold = {}
    for comparison in range(80):
        a, b = 2 * comparison, 2 * comparison + 1
        better, worse = (a, b) if rng.random() < 0.5 else (b, a)
        if comparison % 4 == 0:
            gold[comparison] = [[better], [worse]]
        for annotator in range(1, 6):
            shown = [a, b] if rng.random() < 0.5 else [b, a]
            if annotator <= 3:
                winner = better if rng.random() < 0.9 else worse
                ms = rng.randint(5000, 11000)
            elif annotator == 4:
                winner = rng.choice([a, b])
                ms = rng.randint(1000, 2000)
            else:
                winner = shown[0]
                ms = rng.randint(1000, 2000)
            loser = b if winner == a else a
            records.append(_judgment(comparison, annotator, [[winner], [loser]], shown, time_spent_ms=ms))
    return records, gold


def test_synthetic_annotators_are_clearly_separated() -> None:
    records, gold = _synthetic()
    thresholds = Thresholds(min_median_seconds=1.0)
    scores = {s.annotator_id: s for s in annotator_scores(records, gold=gold, thresholds=thresholds)}
    careful, random_clicker, left_clicker = [scores[1], scores[2], scores[3]], scores[4], scores[5]
    for s in careful:
        assert s.consensus_agreement > 0.8
        assert s.gold_accuracy > 0.8
        assert s.position_bias.p_value > 0.01
        assert s.flags == []
    for s in (random_clicker, left_clicker):
        assert s.consensus_agreement < 0.65
        assert s.gold_accuracy < 0.7
        assert "low gold accuracy" in s.flags
    assert random_clicker.position_bias.p_value > 0.01
    assert "position bias" not in random_clicker.flags
    assert left_clicker.position_bias.rate == 1.0
    assert left_clicker.position_bias.p_value < 1e-10
    assert "position bias" in left_clicker.flags
    # The gap between the worst careful annotator and the best careless one is wide.
    assert (
        min(s.gold_accuracy for s in careful) - max(random_clicker.gold_accuracy, left_clicker.gold_accuracy)
        > 0.25
    )


def test_careless_annotators_pull_project_agreement_down() -> None:
    records, _ = _synthetic()
    careful = [r for r in records if r.annotator_id <= 3]
    for stat in (consensus.alpha_nominal, consensus.fleiss_kappa, consensus.pairwise_agreement_rate):
        everyone, careful_only = stat(consensus.pair_votes(records)), stat(consensus.pair_votes(careful))
        assert careful_only > 0.5
        assert careful_only - everyone > 0.15
    assert consensus.alpha_ordinal(careful) > 0.5 > consensus.alpha_ordinal(records)


def test_ordinal_alpha_uses_strength_and_slot_orientation() -> None:
    # Both prefer candidate 1 over 2, one "much", one "slightly": closer than opposite choices.
    agree = [
        _judgment(1, 1, [[1], [2]], [1, 2], strength="much"),
        _judgment(1, 2, [[1], [2]], [2, 1], strength="slightly"),
        _judgment(2, 1, [[4], [3]], [3, 4], strength="much"),
        _judgment(2, 2, [[4], [3]], [3, 4], strength="clearly"),
    ]
    value = consensus.alpha_ordinal(agree)
    assert value is not None and value > 0.3
    flipped = agree[:3] + [_judgment(2, 2, [[3], [4]], [3, 4], strength="clearly")]
    assert consensus.alpha_ordinal(flipped) < value


def test_majority_needs_a_single_leader() -> None:
    assert consensus.majority([1, 1, -1]) == 1
    assert consensus.majority([0, 0, 1, -1]) == 0
    assert consensus.majority([1, -1]) is None
    assert consensus.majority([]) is None


def test_position_bias_needs_a_real_effect_as_well_as_a_small_p_value() -> None:
    # 5 400 of 10 000 first-shown wins: p is tiny but the effect is 0.04; 70 of 100 is both.
    slight = [_judgment(i, 1, [[2 * i], [2 * i + 1]], [2 * i, 2 * i + 1]) for i in range(5400)]
    slight += [_judgment(i, 1, [[2 * i + 1], [2 * i]], [2 * i, 2 * i + 1]) for i in range(5400, 10000)]
    strong = [_judgment(i, 2, [[2 * i], [2 * i + 1]], [2 * i, 2 * i + 1]) for i in range(70)]
    strong += [_judgment(i, 2, [[2 * i + 1], [2 * i]], [2 * i, 2 * i + 1]) for i in range(70, 100)]
    scores = {s.annotator_id: s for s in annotator_scores(slight + strong)}
    assert scores[1].position_bias.p_value < 1e-10 and "position bias" not in scores[1].flags
    assert scores[2].position_bias.p_value < 0.01 and "position bias" in scores[2].flags
