"""Breakdowns by annotator attribute (language, expertise, ...): who labels what, and how.

For each attribute key and each of its values, the group of annotators holding that value (and
the group without the key) with its judgment count, agreement with consensus, tie rate and the
Bradley–Terry leaderboard of source models from that group's judgments alone. A skew in who
labels (one group preferring one model) shows up as leaderboards that differ between groups.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict

from annotation.quality.bradley_terry import Outcome, leaderboard, outcomes_from_ordering
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
    # Per annotator once, whatever the number of keys: judgments, ties and model battles.
    judged: Counter[int] = Counter()
    ties: Counter[int] = Counter()
    battles: dict[int, list[Outcome]] = defaultdict(list)
    for r in records:
        if r.annotator_id is None:
            continue
        judged[r.annotator_id] += 1
        ties[r.annotator_id] += has_tie(r.ordering)
        battles[r.annotator_id].extend(outcomes_from_ordering(r.ordering, r.models or {}))
    keys = sorted({key for annotator in judged for key in attributes.get(annotator, {})})
    result: dict[str, list[dict]] = {}
    for key in keys:
        members: dict[str | None, list[int]] = defaultdict(list)
        for annotator in sorted(judged):
            members[attributes.get(annotator, {}).get(key)].append(annotator)
        values = sorted((v for v in members if v is not None), key=str)
        if None in members:
            values.append(None)
        result[key] = []
        for value in values:
            group = members[value]
            judgments = sum(judged[a] for a in group)
            agreed = sum(consensus.get(a, (0, 0))[0] for a in group)
            counted = sum(consensus.get(a, (0, 0))[1] for a in group)
            outcomes = [o for a in group for o in battles[a]]
            result[key].append(
                {
                    "value": value,
                    "annotators": len(group),
                    "judgments": judgments,
                    "consensus_agreement": agreed / counted if counted else None,
                    "consensus_pairs": counted,
                    "tie_rate": sum(ties[a] for a in group) / judgments,
                    "leaderboard": [asdict(row) for row in leaderboard(outcomes, rounds=rounds, seed=seed)],
                }
            )
    return result
