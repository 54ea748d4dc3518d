"""Position bias and the exact binomial test."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest

from annotation.quality.position_bias import binomial_test, first_shown_wins, position_bias


def _exact_two_sided(k: int, n: int, p: Fraction) -> float:
    pmf = [comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    return float(sum(q for q in pmf if q <= pmf[k]))


def test_binomial_test_by_hand() -> None:
    # 9 of 10 at p = 1/2: P(X <= 1) + P(X >= 9) = 2 * 11 / 1024.
    assert binomial_test(9, 10) == pytest.approx(22 / 1024, rel=1e-12)
    assert binomial_test(5, 10) == pytest.approx(1.0)
    assert binomial_test(0, 0) == 1.0
    # p = 0.2: every outcome but 1 and 2 is no likelier than 3, so 1 - P(1) - P(2).
    assert binomial_test(3, 10, 0.2) == pytest.approx(1 - 0.268435456 - 0.301989888, rel=1e-9)


@pytest.mark.parametrize(("k", "n", "p"), [(0, 7, "1/2"), (13, 40, "1/2"), (31, 40, "1/2"), (4, 25, "3/10")])
def test_binomial_test_matches_exact_fractions(k: int, n: int, p: str) -> None:
    assert binomial_test(k, n, float(Fraction(p))) == pytest.approx(
        _exact_two_sided(k, n, Fraction(p)), rel=1e-9
    )


def test_first_shown_wins_reads_the_shown_order_not_the_slot_order() -> None:
    assert first_shown_wins([[5], [3]], [5, 3]) is True
    assert first_shown_wins([[5], [3]], [3, 5]) is False
    assert first_shown_wins([[5, 3]], [3, 5]) is None
    assert first_shown_wins([[5], [3]], []) is None
    # A ranking: only the first two shown count.
    assert first_shown_wins([[7], [5], [3]], [5, 3, 7]) is True


def test_position_bias_leaves_ties_out() -> None:
    judgments = [([[1], [2]], [1, 2])] * 9 + [([[2], [1]], [1, 2])] + [([[1, 2]], [1, 2])] * 5
    bias = position_bias(judgments)
    assert (bias.first_wins, bias.decided, bias.rate) == (9, 10, 0.9)
    assert bias.p_value == pytest.approx(22 / 1024)
    assert position_bias([]).p_value is None
