"""Breakdowns by annotator attribute (language, expertise, ...): who labels what, and how.

For each attribute key and each of its values, the group of annotators holding that value (and
the group without the key) with its judgment count, agreement with consensus, tie rate and the
Bradley–Terry leaderboard of source models from that group's judgments alone. A skew in who
labels (one group preferring one model) shows up as leaderboards that differ between groups.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict

from annotation.quality.bradley_terry import leaderboard, outcomes_from_ordering
from annotation.quality.records import JudgmentRecord, has_tie


def attribute_groups(
    records: Sequence[JudgmentRecord],
    *,
    attributes: Mapping[int, Mapping[str, str]],
    consensus: Mapping[int, tuple[int, int]],
    rounds: int = 200,
    seed: int = 0,
) -> dict[str, list[dict]]:
    """{attribute key: [group, ...]} over the keys any annotator with judgments holds.

    `attributes` maps annotator ids to their attributes; `consensus` is
    consensus.agreement_with_consensus of every judgment (annotator id → (agreed, counted)), so a
    group's agreement is its members' relations that match the majority of the *other* annotators,
    whatever their group, pooled over the members. Each group is {"value" (None for annotators
    without the key), "annotators", "judgments", "consensus_agreement", "consensus_pairs",
    "tie_rate", "leaderboard"}; groups come in value order, the one without the key last.
    Imported judgments (no annotator) belong to no group.
    """
    mine: dict[int, list[JudgmentRecord]] = defaultdict(list)
    for r in records:
        if r.annotator_id is not None:
            mine[r.annotator_id].append(r)
    keys = sorted({key for annotator in mine for key in attributes.get(annotator, {})})
    result: dict[str, list[dict]] = {}
    for key in keys:
        members: dict[str | None, list[int]] = defaultdict(list)
        for annotator in sorted(mine):
            members[attributes.get(annotator, {}).get(key)].append(annotator)
        values = sorted((v for v in members if v is not None), key=str)
        if None in members:
            values.append(None)
        result[key] = [
            _group(value, members[value], mine, consensus, rounds=rounds, seed=seed) for value in values
        ]
    return result


def _group(
    value: str | None,
    annotators: list[int],
    mine: Mapping[int, list[JudgmentRecord]],
    consensus: Mapping[int, tuple[int, int]],
    *,
    rounds: int,
    seed: int,
) -> dict:
    own = [r for a in annotators for r in mine[a]]
    agreed = sum(consensus.get(a, (0, 0))[0] for a in annotators)
    counted = sum(consensus.get(a, (0, 0))[1] for a in annotators)
    outcomes = [o for r in own for o in outcomes_from_ordering(r.ordering, r.models or {})]
    return {
        "value": value,
        "annotators": len(annotators),
        "judgments": len(own),
        "consensus_agreement": agreed / counted if counted else None,
        "consensus_pairs": counted,
        "tie_rate": sum(has_tie(r.ordering) for r in own) / len(own) if own else None,
        "leaderboard": [asdict(row) for row in leaderboard(outcomes, rounds=rounds, seed=seed)],
    }
