"""Bradley–Terry strengths from pairwise outcomes, with bootstrap intervals, and a model leaderboard.

An outcome is (a, b, score_a): score_a is 1 when a won, 0 when b won and 0.5 for a tie (a tie counts
as half a win each, as public model arenas do). Strengths are fitted by the MM algorithm of
Hunter (2004), which raises the likelihood at every step, and reported on an Elo-like scale
(mean 1000, 400 points = 10:1 odds).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from annotation.quality.records import Ordering

Outcome = tuple[Hashable, Hashable, float]

ELO_SCALE = 400 / math.log(10)
ELO_MEAN = 1000.0


@dataclass(frozen=True)
class Fit:
    players: list[Hashable]
    log_strengths: np.ndarray  # natural-log strengths, mean 0
    iterations: int

    def elo(self) -> dict[Hashable, float]:
        return {
            p: ELO_MEAN + ELO_SCALE * float(s) for p, s in zip(self.players, self.log_strengths, strict=True)
        }

    def win_probability(self, a: Hashable, b: Hashable) -> float:
        i, j = self.players.index(a), self.players.index(b)
        return float(1.0 / (1.0 + math.exp(self.log_strengths[j] - self.log_strengths[i])))


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    model: str
    score: float
    ci_low: float
    ci_high: float
    wins: int
    losses: int
    ties: int
    battles: int
    win_rate: float  # (wins + ties/2) / battles


def _index(
    outcomes: Sequence[Outcome],
) -> tuple[list[Hashable], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Players, and the distinct outcomes as (first, second, score, count) arrays.

    Folding repeated outcomes together keeps fitting and resampling cost independent of how many
    judgments there are.
    """
    players = sorted({p for a, b, _ in outcomes for p in (a, b)}, key=str)
    where = {p: i for i, p in enumerate(players)}
    distinct = Counter((where[a], where[b], float(s)) for a, b, s in outcomes)
    first = np.array([a for a, _, _ in distinct], dtype=np.intp)
    second = np.array([b for _, b, _ in distinct], dtype=np.intp)
    score = np.array([s for _, _, s in distinct], dtype=float)
    count = np.array(list(distinct.values()), dtype=float)
    return players, first, second, score, count


def _wins_matrix(
    size: int, first: np.ndarray, second: np.ndarray, score: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    wins = np.zeros((size, size))
    np.add.at(wins, (first, second), weight * score)
    np.add.at(wins, (second, first), weight * (1.0 - score))
    return wins


def _mm(wins: np.ndarray, *, prior: float, tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    """Log-strengths maximising the likelihood of the wins matrix (wins[i, j] = i's wins over j).

    `prior` adds that many virtual ties to every pair that met, which keeps the estimate finite
    for a player who won (or lost) every battle.
    """
    games = wins + wins.T
    met = games > 0
    wins = wins + prior / 2 * met
    games = games + prior * met
    total_wins = wins.sum(axis=1)
    p = np.ones(len(wins))
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        denom = (games / (p[:, None] + p[None, :])).sum(axis=1)
        new = np.where(denom > 0, total_wins / np.where(denom > 0, denom, 1.0), p)
        new = np.maximum(new, 1e-300)
        new /= math.exp(np.log(new).mean())
        if np.max(np.abs(np.log(new) - np.log(p))) < tol:
            p = new
            break
        p = new
    log_p = np.log(p)
    return log_p - log_p.mean(), iterations


def fit(
    outcomes: Sequence[Outcome], *, prior: float = 0.0, tol: float = 1e-10, max_iter: int = 10_000
) -> Fit:
    """The maximum-likelihood strengths. Without a prior, a player who won or lost every battle has
    no finite estimate; pass a small `prior` (virtual ties) in that case."""
    players, first, second, score, count = _index(outcomes)
    wins = _wins_matrix(len(players), first, second, score, count)
    log_strengths, iterations = _mm(wins, prior=prior, tol=tol, max_iter=max_iter)
    return Fit(players=players, log_strengths=log_strengths, iterations=iterations)


def bootstrap(
    outcomes: Sequence[Outcome],
    *,
    rounds: int = 200,
    seed: int = 0,
    prior: float = 0.5,
    confidence: float = 0.95,
) -> dict[Hashable, tuple[float, float]]:
    """Percentile intervals of each player's Elo-scale score over `rounds` resamples of the outcomes.

    Resampling draws how often each distinct outcome occurs from a multinomial, which is the same
    as drawing outcomes with replacement; the seeded generator makes the intervals reproducible.
    """
    if not outcomes:
        return {}
    players, first, second, score, count = _index(outcomes)
    rng = np.random.default_rng(seed)
    draws = np.empty((rounds, len(players)))
    total = int(count.sum())
    for r in range(rounds):
        weight = rng.multinomial(total, count / total).astype(float)
        wins = _wins_matrix(len(players), first, second, score, weight)
        draws[r], _ = _mm(wins, prior=prior, tol=1e-6, max_iter=2_000)
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail], axis=0)
    return {
        p: (ELO_MEAN + ELO_SCALE * float(lo), ELO_MEAN + ELO_SCALE * float(hi))
        for p, lo, hi in zip(players, low, high, strict=True)
    }


def outcomes_from_ordering(ordering: Ordering, model_of: Mapping[int, str]) -> list[Outcome]:
    """Battles between source models that one judgment implies: a ranking becomes all its pairs.

    Candidates of the same model are not a battle between models and are left out.
    """
    tiers = [(i, c) for i, tier in enumerate(ordering) for c in tier]
    battles: list[Outcome] = []
    for (ti, a), (tj, b) in combinations(tiers, 2):
        model_a, model_b = model_of.get(a, ""), model_of.get(b, "")
        if model_a == model_b:
            continue
        battles.append((model_a, model_b, 0.5 if ti == tj else (1.0 if ti < tj else 0.0)))
    return battles


def leaderboard(
    outcomes: Iterable[Outcome], *, rounds: int = 200, seed: int = 0, prior: float = 0.5
) -> list[LeaderboardRow]:
    """Models by Bradley–Terry score, best first, with bootstrap intervals, win rates and battle counts."""
    outcomes = list(outcomes)
    if not outcomes:
        return []
    scores = fit(outcomes, prior=prior).elo()
    intervals = bootstrap(outcomes, rounds=rounds, seed=seed, prior=prior)
    record: dict[Hashable, list[int]] = {p: [0, 0, 0] for p in scores}
    for a, b, s in outcomes:
        if s == 0.5:
            record[a][2] += 1
            record[b][2] += 1
        else:
            winner, loser = (a, b) if s > 0.5 else (b, a)
            record[winner][0] += 1
            record[loser][1] += 1
    ordered = sorted(scores, key=lambda p: (-scores[p], str(p)))
    rows = []
    for rank, model in enumerate(ordered, start=1):
        wins, losses, ties = record[model]
        battles = wins + losses + ties
        rows.append(
            LeaderboardRow(
                rank=rank,
                model=str(model),
                score=round(scores[model], 1),
                ci_low=round(intervals[model][0], 1),
                ci_high=round(intervals[model][1], 1),
                wins=wins,
                losses=losses,
                ties=ties,
                battles=battles,
                win_rate=(wins + ties / 2) / battles,
            )
        )
    return rows


def head_to_head(outcomes: Iterable[Outcome]) -> dict[Hashable, dict[Hashable, dict[str, float]]]:
    """The pairwise win matrix: for each player a and each opponent b it met, a's wins, losses and
    ties against b, the battles and a's win rate against b ((wins + ties/2) / battles)."""
    record: dict[Hashable, dict[Hashable, list[int]]] = {}
    for a, b, s in outcomes:
        for player, opponent, score in ((a, b, s), (b, a, 1.0 - s)):
            cell = record.setdefault(player, {}).setdefault(opponent, [0, 0, 0])
            cell[0 if score > 0.5 else 1 if score < 0.5 else 2] += 1
    return {
        player: {
            opponent: {
                "wins": wins,
                "losses": losses,
                "ties": ties,
                "battles": wins + losses + ties,
                "win_rate": (wins + ties / 2) / (wins + losses + ties),
            }
            for opponent, (wins, losses, ties) in opponents.items()
        }
        for player, opponents in record.items()
    }
