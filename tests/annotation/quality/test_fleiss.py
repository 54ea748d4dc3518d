"""Fleiss' kappa on hand-worked tables."""

from __future__ import annotations

import pytest

from annotation.quality.fleiss import choice_table, kappa

# The worked example of Fleiss' kappa: 10 items, 14 raters each, 5 categories.
# P-bar = 0.378, P-bar-e = 0.213, kappa = 0.210.
WORKED = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def test_worked_example() -> None:
    assert kappa(WORKED) == pytest.approx(0.20993, abs=1e-5)


def test_pairwise_choices_by_hand() -> None:
    # Three items, three raters, categories (first, second, tie):
    # P_i = 1, 1/3, 0 → P-bar = 4/9; shares 5/9, 3/9, 1/9 → P-e = 35/81; kappa = (36-35)/(81-35) = 1/46.
    table = choice_table([["a", "a", "a"], ["a", "b", "b"], ["b", "a", "tie"]], ["a", "b", "tie"])
    assert table == [[3, 0, 0], [1, 2, 0], [1, 1, 1]]
    assert kappa(table) == pytest.approx(1 / 46)


def test_perfect_agreement_and_chance_level() -> None:
    assert kappa([[3, 0], [0, 3], [3, 0]]) == pytest.approx(1.0)
    # Every item split as evenly as possible: agreement below chance.
    assert kappa([[1, 1], [1, 1]]) == pytest.approx(-1.0)


def test_items_with_one_rater_are_left_out_and_a_single_category_is_undefined() -> None:
    assert kappa([[3, 0], [0, 3], [1, 0]]) == pytest.approx(1.0)
    assert kappa([[1, 0]]) is None
    assert kappa([[2, 0], [3, 0]]) is None


def test_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the categories"):
        choice_table([["a", "c"]], ["a", "b"])
