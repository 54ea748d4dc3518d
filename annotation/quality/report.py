"""The project quality report: every dashboard figure from plain records, as JSON-ready data."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from annotation.quality import consensus
from annotation.quality.agreement import agreement_score
from annotation.quality.annotators import Thresholds, annotator_scores
from annotation.quality.bradley_terry import leaderboard, outcomes_from_ordering
from annotation.quality.groups import attribute_groups
from annotation.quality.position_bias import position_bias
from annotation.quality.records import JudgmentRecord, Ordering


@dataclass(frozen=True)
class QualityInputs:
    """What the selector reads for one project."""

    records: list[JudgmentRecord]
    comparisons: int
    overlap: int
    gold: dict[int, Ordering] = field(default_factory=dict)
    skips: dict[int, int] = field(default_factory=dict)
    usernames: dict[int, str] = field(default_factory=dict)
    # Comparison id → its round (for the comparisons that have slots), and comparisons per round.
    comparison_rounds: dict[int, int] = field(default_factory=dict)
    comparisons_by_round: dict[int, int] = field(default_factory=dict)
    # Annotator id → their membership attributes ({"language": "de", ...}).
    attributes: dict[int, dict[str, str]] = field(default_factory=dict)


def timeline(records: Sequence[JudgmentRecord]) -> list[dict]:
    """Judgments per day from the first to the last day with any, gaps filled with zero."""
    per_day = Counter(r.day for r in records if r.day)
    if not per_day:
        return []
    day, last = dt.date.fromisoformat(min(per_day)), dt.date.fromisoformat(max(per_day))
    rows, running = [], 0
    while day <= last:
        count = per_day.get(day.isoformat(), 0)
        running += count
        rows.append({"day": day.isoformat(), "judgments": count, "cumulative": running})
        day += dt.timedelta(days=1)
    return rows


def progress(records: Sequence[JudgmentRecord], *, comparisons: int, overlap: int) -> dict:
    """Judgments that count toward the target (at most `overlap` per comparison) against
    comparisons × overlap."""
    per_comparison = Counter(r.comparison_id for r in records)
    counted = sum(min(n, overlap) for n in per_comparison.values())
    target = comparisons * overlap
    return {
        "comparisons": comparisons,
        "overlap": overlap,
        "target": target,
        "judgments": len(records),
        "counted": counted,
        "complete_comparisons": sum(n >= overlap for n in per_comparison.values()),
        "fraction": counted / target if target else None,
    }


def low_agreement(records: Sequence[JudgmentRecord], *, below: float = 1.0, limit: int = 20) -> list[dict]:
    """The comparisons judged least alike (agreement under `below`), lowest first.

    The score is the export's (annotation.quality.agreement.agreement_score, over every judgment
    of the comparison), so what the dashboard lists is what an export's min_agreement filter drops.
    """
    by_comparison: dict[int, list[JudgmentRecord]] = defaultdict(list)
    for r in records:
        by_comparison[r.comparison_id].append(r)
    rows = []
    for comparison_id, group in by_comparison.items():
        score = agreement_score(r.ordering for r in group)
        if score is not None and score < below:
            rows.append({"comparison_id": comparison_id, "agreement": score, "judgments": len(group)})
    rows.sort(key=lambda row: (row["agreement"], -row["judgments"], row["comparison_id"]))
    return rows[:limit]


def round_figures(inputs: QualityInputs) -> list[dict]:
    """Per round (oldest first): comparisons, judgments, progress and agreement of that round's
    judgments, by the same definitions as the whole project's figures."""
    by_round: dict[int, list[JudgmentRecord]] = defaultdict(list)
    for r in inputs.records:
        by_round[inputs.comparison_rounds.get(r.comparison_id, 0)].append(r)
    rows = []
    for round in sorted(set(inputs.comparisons_by_round) | set(by_round)):
        records = by_round.get(round, [])
        votes = consensus.pair_votes(records)
        rows.append(
            {
                "round": round,
                "progress": progress(
                    records, comparisons=inputs.comparisons_by_round.get(round, 0), overlap=inputs.overlap
                ),
                "agreement": {
                    "alpha_ordinal": consensus.alpha_ordinal(records),
                    "fleiss_kappa": consensus.fleiss_kappa(votes),
                    "pairwise_rate": consensus.pairwise_agreement_rate(votes),
                    "pairs_with_overlap": sum(len(v) >= 2 for v in votes.values()),
                },
            }
        )
    return rows


def quality_report(
    inputs: QualityInputs,
    *,
    thresholds: Thresholds | None = None,
    rounds: int = 200,
    seed: int = 0,
) -> dict:
    """Progress, judgments over time, agreement, position bias, annotator scores, the model
    leaderboard, the same by annotator attribute, and per-round figures; `rounds` and `seed` drive
    the leaderboards' bootstrap intervals (`rounds` counts resamples, not the project's rounds)."""
    thresholds = thresholds or Thresholds()
    records = inputs.records
    votes = consensus.pair_votes(records)
    with_consensus = consensus.agreement_with_consensus(votes)
    scores = annotator_scores(
        records,
        gold=inputs.gold,
        skips=inputs.skips,
        thresholds=thresholds,
        votes=votes,
        consensus=with_consensus,
    )
    annotators = []
    for score in scores:
        row = asdict(score)
        row["username"] = inputs.usernames.get(score.annotator_id, f"#{score.annotator_id}")
        annotators.append(row)
    outcomes = [o for r in records for o in outcomes_from_ordering(r.ordering, r.models or {})]
    return {
        "progress": progress(records, comparisons=inputs.comparisons, overlap=inputs.overlap),
        "timeline": timeline(records),
        "agreement": {
            "alpha_ordinal": consensus.alpha_ordinal(records),
            "alpha_nominal": consensus.alpha_nominal(votes),
            "fleiss_kappa": consensus.fleiss_kappa(votes),
            "pairwise_rate": consensus.pairwise_agreement_rate(votes),
            "pairs_with_overlap": sum(len(v) >= 2 for v in votes.values()),
        },
        "position_bias": asdict(
            position_bias((r.ordering, r.presented_order) for r in records if r.annotator_id is not None)
        ),
        "annotators": annotators,
        "low_agreement": low_agreement(records),
        "flagged": [row["annotator_id"] for row in annotators if row["flags"]],
        "leaderboard": [asdict(row) for row in leaderboard(outcomes, rounds=rounds, seed=seed)],
        "groups": attribute_groups(
            records, attributes=inputs.attributes, consensus=with_consensus, rounds=rounds, seed=seed
        ),
        "thresholds": asdict(thresholds),
        "gold_comparisons": len(inputs.gold),
        "by_round": round_figures(inputs),
    }
