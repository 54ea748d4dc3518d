"""Pairing strategies, checked against hand-worked examples."""

from __future__ import annotations

import pytest

from annotation.quality.pairing import comparison_groups, pairs, ranking_groups


def test_all_pairs_lists_every_pair_once_in_index_order() -> None:
    assert pairs(4, "all_pairs") == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert pairs(2, "all_pairs") == [(0, 1)]


def test_adjacent_pairs_neighbours_round_a_ring() -> None:
    assert pairs(4, "adjacent") == [(0, 1), (1, 2), (2, 3), (3, 0)]
    assert pairs(3, "adjacent") == [(0, 1), (1, 2), (2, 0)]
    assert pairs(2, "adjacent") == [(0, 1)]


def test_first_vs_rest_compares_the_reference_with_each_other_candidate() -> None:
    assert pairs(4, "first_vs_rest") == [(0, 1), (0, 2), (0, 3)]


def test_fewer_than_two_candidates_give_no_pairs() -> None:
    for strategy in ("all_pairs", "adjacent", "first_vs_rest"):
        assert pairs(1, strategy) == []
        assert pairs(0, strategy) == []


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError):
        pairs(3, "random")


def test_ranking_with_exactly_k_candidates_is_one_comparison() -> None:
    assert ranking_groups(3, 3) == [(0, 1, 2)]
    assert ranking_groups(4, 4) == [(0, 1, 2, 3)]


def test_ranking_with_fewer_than_k_candidates_ranks_what_there_is() -> None:
    assert ranking_groups(2, 4) == [(0, 1)]
    assert ranking_groups(1, 3) == []


def test_ranking_with_more_than_k_candidates_chains_overlapping_windows() -> None:
    assert ranking_groups(5, 3) == [(0, 1, 2), (2, 3, 4)]
    assert ranking_groups(6, 3) == [(0, 1, 2), (2, 3, 4), (4, 5, 0)]
    assert ranking_groups(4, 3) == [(0, 1, 2), (2, 3, 0)]
    assert ranking_groups(7, 4) == [(0, 1, 2, 3), (3, 4, 5, 6)]


@pytest.mark.parametrize(("n", "k"), [(n, k) for n in range(2, 13) for k in (3, 4)])
def test_ranking_groups_cover_every_candidate_without_repeats(n: int, k: int) -> None:
    groups = ranking_groups(n, k)
    assert set().union(*groups) == set(range(n))
    assert all(len(set(g)) == len(g) == min(n, k) for g in groups)
    # Consecutive windows share a candidate, so the rankings form one connected graph.
    assert all(set(a) & set(b) for a, b in zip(groups, groups[1:], strict=False))


def test_comparison_groups_follow_the_project_mode() -> None:
    assert comparison_groups(n=3, mode="pairwise", pairing="first_vs_rest", k=2) == [(0, 1), (0, 2)]
    assert comparison_groups(n=5, mode="ranking", pairing="all_pairs", k=3) == [(0, 1, 2), (2, 3, 4)]
    with pytest.raises(ValueError):
        comparison_groups(n=3, mode="other", pairing="all_pairs", k=2)
