"""Bradley–Terry fits, bootstrap intervals and the model leaderboard."""

from __future__ import annotations

import math
import random

import pytest

from annotation.quality.bradley_terry import (
    bootstrap,
    fit,
    head_to_head,
    leaderboard,
    outcomes_from_ordering,
)


def test_two_players_three_to_one_by_hand() -> None:
    # The MLE of p_a / p_b is wins_a / wins_b = 3: 400 * log10(3) Elo points apart, P(a beats b) = 3/4.
    result = fit([("a", "b", 1.0)] * 3 + [("a", "b", 0.0)])
    scores = result.elo()
    assert scores["a"] - scores["b"] == pytest.approx(400 * math.log10(3), abs=1e-6)
    assert (scores["a"] + scores["b"]) / 2 == pytest.approx(1000)
    assert result.win_probability("a", "b") == pytest.approx(0.75, abs=1e-9)


def test_ties_count_as_half_a_win_each() -> None:
    scores = fit([("a", "b", 0.5)] * 4 + [("a", "b", 1.0)] * 2).elo()
    # a scores 4/6 of the points: odds 2:1.
    assert scores["a"] - scores["b"] == pytest.approx(400 * math.log10(2), abs=1e-6)


def test_fit_solves_the_likelihood_equations() -> None:
    # At the MLE each player's expected wins equal its observed wins (the score equations).
    outcomes = [("a", "b", 1.0)] * 5 + [("b", "a", 1.0)] * 2 + [("b", "c", 1.0)] * 4
    outcomes += [("c", "b", 1.0)] * 3 + [("a", "c", 1.0)] * 2 + [("c", "a", 1.0)] * 2
    result = fit(outcomes)
    for player in "abc":
        observed = sum(s if a == player else 1 - s for a, b, s in outcomes if player in (a, b))
        expected = sum(
            result.win_probability(a, b) if a == player else result.win_probability(b, a)
            for a, b, _ in outcomes
            if player in (a, b)
        )
        assert expected == pytest.approx(observed, abs=1e-6)


def test_a_prior_keeps_an_unbeaten_player_finite() -> None:
    scores = fit([("a", "b", 1.0)] * 5, prior=0.5).elo()
    # 5.25 to 0.25 points: odds 21:1.
    assert scores["a"] - scores["b"] == pytest.approx(400 * math.log10(21), abs=1e-6)


def test_ranking_expands_to_pairs_and_skips_same_model_pairs() -> None:
    models = {1: "m1", 2: "m2", 3: "m3", 4: "m1"}
    assert outcomes_from_ordering([[2], [1, 3]], models) == [
        ("m2", "m1", 1.0),
        ("m2", "m3", 1.0),
        ("m1", "m3", 0.5),
    ]
    assert outcomes_from_ordering([[1], [4]], models) == []
    assert outcomes_from_ordering([[3], [2]], models) == [("m3", "m2", 1.0)]


def _battles(strengths: dict[str, float], count: int, seed: int) -> list[tuple[str, str, float]]:
    rng = random.Random(seed)
    names = sorted(strengths)
    outcomes = []
    for _ in range(count):
        a, b = rng.sample(names, 2)
        p = 1 / (1 + math.exp(strengths[b] - strengths[a]))
        outcomes.append((a, b, 1.0 if rng.random() < p else 0.0))
    return outcomes


def test_leaderboard_recovers_known_strengths_with_intervals_that_cover_them() -> None:
    strengths = {"small": -1.0, "medium": 0.0, "large": 1.0}
    rows = leaderboard(_battles(strengths, 600, seed=1), rounds=100, seed=3)
    assert [r.model for r in rows] == ["large", "medium", "small"]
    assert [r.rank for r in rows] == [1, 2, 3]
    for row in rows:
        truth = 1000 + 400 / math.log(10) * strengths[row.model]
        assert row.ci_low <= row.score <= row.ci_high
        assert row.ci_low - 25 <= truth <= row.ci_high + 25
        assert row.battles == row.wins + row.losses + row.ties
    assert sum(r.battles for r in rows) == 1200
    assert rows[0].win_rate > 0.6 > 0.4 > rows[2].win_rate


def test_bootstrap_is_reproducible_with_a_seed() -> None:
    outcomes = _battles({"a": 0.3, "b": 0.0, "c": -0.2}, 60, seed=5)
    assert bootstrap(outcomes, rounds=30, seed=11) == bootstrap(outcomes, rounds=30, seed=11)
    assert bootstrap(outcomes, rounds=30, seed=11) != bootstrap(outcomes, rounds=30, seed=12)


def test_leaderboard_counts_by_hand() -> None:
    rows = leaderboard([("x", "y", 1.0), ("x", "y", 0.5), ("y", "x", 1.0), ("x", "z", 1.0)], rounds=20)
    by_model = {r.model: r for r in rows}
    assert (by_model["x"].wins, by_model["x"].losses, by_model["x"].ties, by_model["x"].battles) == (
        2,
        1,
        1,
        4,
    )
    assert by_model["x"].win_rate == pytest.approx(2.5 / 4)
    assert by_model["z"].win_rate == 0.0
    assert rows[0].model == "x" and rows[-1].model == "z"
    assert leaderboard([]) == []


def test_head_to_head_by_hand() -> None:
    # a beats b twice (once listed as b losing) and ties once; c beats b once; a never met c.
    record = head_to_head([("a", "b", 1.0), ("b", "a", 0.0), ("a", "b", 0.5), ("c", "b", 1.0)])
    assert record["a"]["b"] == {"wins": 2, "losses": 0, "ties": 1, "battles": 3, "win_rate": 2.5 / 3}
    assert record["b"]["a"] == {"wins": 0, "losses": 2, "ties": 1, "battles": 3, "win_rate": 0.5 / 3}
    assert record["b"]["c"]["losses"] == 1 and record["c"]["b"]["win_rate"] == 1.0
    assert "c" not in record["a"] and head_to_head([]) == {}
