"""Krippendorff's alpha against hand-worked examples and the maintained `krippendorff` package."""

from __future__ import annotations

import math
import random

import krippendorff as reference
import numpy as np
import pytest

from annotation.quality.krippendorff import alpha

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 coders × 12 units, None = missing.
TEXTBOOK = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def _units(matrix: list[list[int | None]]) -> list[list[int | None]]:
    return [list(column) for column in zip(*matrix, strict=True)]


def _reference(matrix: list[list[int | None]], level: str) -> float:
    data = np.array([[np.nan if v is None else v for v in row] for row in matrix], dtype=float)
    return float(reference.alpha(reliability_data=data, level_of_measurement=level))


def test_two_coders_binary_by_hand() -> None:
    # Coincidences o00=4, o01=o10=1, o11=2; n0=5, n1=3, n=8: alpha = 1 - 7 * 2 / 30 = 8/15.
    assert alpha([[1, 1], [1, 0], [0, 0], [0, 0]], level="nominal") == pytest.approx(8 / 15)


@pytest.mark.parametrize(
    ("level", "published"), [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)]
)
def test_textbook_example_matches_published_values(level: str, published: float) -> None:
    assert alpha(_units(TEXTBOOK), level=level) == pytest.approx(published, abs=5e-4)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_matches_krippendorff_package_on_random_data_with_missing_values(level: str) -> None:
    rng = random.Random(7)
    for _ in range(20):
        coders, units = rng.randint(2, 5), rng.randint(5, 30)
        truth = [rng.randint(0, 4) for _ in range(units)]
        matrix = [
            [None if rng.random() < 0.2 else (t if rng.random() < 0.7 else rng.randint(0, 4)) for t in truth]
            for _ in range(coders)
        ]
        ours = alpha(_units(matrix), level=level)
        theirs = _reference(matrix, level)
        if ours is None:
            assert math.isnan(theirs) or theirs == pytest.approx(1.0)
        else:
            assert ours == pytest.approx(theirs, abs=1e-9)


def test_ordinal_counts_near_misses_as_smaller_disagreements_than_nominal() -> None:
    near = [[1, 2], [2, 3], [3, 4], [1, 1], [4, 4], [2, 2]]
    assert alpha(near, level="ordinal") > alpha(near, level="nominal")


def test_perfect_agreement_is_one_and_undefined_without_variation() -> None:
    assert alpha([[1, 1], [2, 2, 2], [3, 3]], level="ordinal") == pytest.approx(1.0)
    assert alpha([[1, 1], [1, 1]], level="nominal") is None
    assert alpha([[1], [2, None]], level="nominal") is None
