"""Annotator scores: agreement with consensus, gold accuracy, time, ties, skips and position bias,
and the flags raised when an annotator falls below the project's thresholds."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from annotation.quality.consensus import PairVotes, agreement_with_consensus, pair_votes
from annotation.quality.position_bias import PositionBias, position_bias
from annotation.quality.records import JudgmentRecord, Ordering, has_tie, pair_relations, relation


@dataclass(frozen=True)
class Thresholds:
    """Below these an annotator is flagged; nothing is flagged on fewer than `min_items` judgments."""

    min_items: int = 10
    min_consensus_agreement: float = 0.6
    min_gold_accuracy: float = 0.7
    min_gold_pairs: int = 5
    # Every annotator is tested, so a team of ten at 0.01 would see a careful one flagged by chance
    # one time in ten; a pure left-clicker still falls below 0.001 after 11 judgments.
    bias_p_value: float = 0.001
    # With thousands of judgments a harmless 0.52 is "significant": also ask for a real effect.
    min_bias_effect: float = 0.1
    min_median_seconds: float = 2.0


@dataclass(frozen=True)
class AnnotatorScore:
    annotator_id: int
    judgments: int
    consensus_agreement: float | None
    consensus_pairs: int
    gold_accuracy: float | None
    gold_pairs: int
    median_seconds: float | None
    tie_rate: float | None
    skips: int
    skip_rate: float | None
    position_bias: PositionBias
    flags: list[str] = field(default_factory=list)


def gold_matches(ordering: Ordering, gold: Ordering) -> tuple[int, int]:
    """(matching, compared) candidate-pair relations between a judgment and the gold ordering."""
    matching = compared = 0
    for (a, b), expected in pair_relations(gold):
        given = relation(ordering, a, b)
        if given is None:
            continue
        matching += given == expected
        compared += 1
    return matching, compared


def annotator_scores(
    records: Sequence[JudgmentRecord],
    *,
    gold: Mapping[int, Ordering] | None = None,
    skips: Mapping[int, int] | None = None,
    thresholds: Thresholds = Thresholds(),
    votes: PairVotes | None = None,
    consensus: Mapping[int, tuple[int, int]] | None = None,
) -> list[AnnotatorScore]:
    """One score per annotator who judged or skipped, ordered by annotator id.

    `gold` maps comparison ids to their known ordering; `skips` maps annotator ids to how many
    assignments they skipped; `votes` and `consensus` save recomputing `pair_votes(records)` and
    `agreement_with_consensus(votes)` when the caller has them.
    """
    gold = gold or {}
    skips = skips or {}
    if consensus is None:
        consensus = agreement_with_consensus(pair_votes(records) if votes is None else votes)
    mine: dict[int, list[JudgmentRecord]] = defaultdict(list)
    for r in records:
        if r.annotator_id is not None:
            mine[r.annotator_id].append(r)
    scores = []
    for annotator in sorted(set(mine) | {a for a, n in skips.items() if n}):
        own = mine.get(annotator, [])
        agreed, counted = consensus.get(annotator, (0, 0))
        gold_hit = gold_seen = 0
        for r in own:
            if r.comparison_id in gold:
                hit, seen = gold_matches(r.ordering, gold[r.comparison_id])
                gold_hit, gold_seen = gold_hit + hit, gold_seen + seen
        times = [r.time_spent_ms / 1000 for r in own if r.time_spent_ms > 0]
        skipped = skips.get(annotator, 0)
        score = AnnotatorScore(
            annotator_id=annotator,
            judgments=len(own),
            consensus_agreement=agreed / counted if counted else None,
            consensus_pairs=counted,
            gold_accuracy=gold_hit / gold_seen if gold_seen else None,
            gold_pairs=gold_seen,
            median_seconds=statistics.median(times) if times else None,
            tie_rate=sum(has_tie(r.ordering) for r in own) / len(own) if own else None,
            skips=skipped,
            skip_rate=skipped / (skipped + len(own)) if skipped + len(own) else None,
            position_bias=position_bias((r.ordering, r.presented_order) for r in own),
        )
        scores.append(replace(score, flags=_flags(score, thresholds)))
    return scores


def _flags(score: AnnotatorScore, t: Thresholds) -> list[str]:
    if score.judgments < t.min_items:
        return []
    flags = []
    if score.consensus_agreement is not None and score.consensus_agreement < t.min_consensus_agreement:
        flags.append("low agreement with consensus")
    if score.gold_accuracy is not None and score.gold_pairs >= t.min_gold_pairs:
        if score.gold_accuracy < t.min_gold_accuracy:
            flags.append("low gold accuracy")
    bias = score.position_bias
    if (
        bias.p_value is not None
        and bias.p_value < t.bias_p_value
        and abs(bias.rate - 0.5) >= t.min_bias_effect
    ):
        flags.append("position bias")
    if score.median_seconds is not None and score.median_seconds < t.min_median_seconds:
        flags.append("too fast")
    return flags
