"""Breakdowns by annotator attribute, on hand-worked judgments."""

from __future__ import annotations

import pytest

from annotation.quality import consensus
from annotation.quality.groups import attribute_groups
from annotation.quality.records import JudgmentRecord, make_ordering

MODELS = {10: "m-a", 11: "m-b", 20: "m-a", 21: "m-b", 30: "m-a", 31: "m-b", 40: "m-a", 41: "m-b"}


def _judgment(comparison: int, annotator: int | None, tiers: list[list[int]]) -> JudgmentRecord:
    slots = tuple(sorted(c for tier in tiers for c in tier))
    return JudgmentRecord(
        comparison_id=comparison,
        annotator_id=annotator,
        ordering=make_ordering(tiers),
        slots=slots,
        models={c: MODELS[c] for c in slots},
    )


# Candidates 10, 20, 30, 40 come from m-a; 11, 21, 31, 41 from m-b.
RECORDS = [
    _judgment(1, 1, [[10], [11]]),  # 1 (de): m-a
    _judgment(1, 2, [[11], [10]]),  # 2 (en): m-b
    _judgment(1, 3, [[11], [10]]),  # 3 (en, law): m-b
    _judgment(2, 1, [[20], [21]]),  # m-a
    _judgment(2, 2, [[20], [21]]),  # m-a
    _judgment(2, 4, [[20, 21]]),  # 4 (no attributes): tie
    _judgment(3, None, [[31], [30]]),  # imported: in no group
    _judgment(4, 1, [[40], [41]]),
    _judgment(4, 2, [[40], [41]]),
    _judgment(4, 3, [[40], [41]]),
]
ATTRIBUTES = {1: {"language": "de"}, 2: {"language": "en"}, 3: {"language": "en", "expertise": "law"}}
# Against the others' majority: on comparison 1 annotator 1 faces two m-b votes (disagrees), 2 and 3
# face a level split (not counted); on 2, 1 and 2 face {m-a, tie} (level), 4 faces two m-a votes
# (disagrees); on 4 everyone agrees with the other two.
CONSENSUS = {1: (1, 2), 2: (1, 1), 3: (1, 1), 4: (0, 1)}


def _groups() -> dict[str, list[dict]]:
    return attribute_groups(RECORDS, attributes=ATTRIBUTES, consensus=CONSENSUS, rounds=10, seed=0)


def _board(group: dict) -> dict[str, tuple[int, int, int, float]]:
    return {r["model"]: (r["wins"], r["losses"], r["ties"], r["win_rate"]) for r in group["leaderboard"]}


def test_the_consensus_by_hand_is_the_module_s() -> None:
    assert consensus.agreement_with_consensus(consensus.pair_votes(RECORDS)) == CONSENSUS


def test_language_groups_by_hand() -> None:
    groups = _groups()
    assert list(groups) == ["expertise", "language"]
    de, en, unset = groups["language"]
    assert [g["value"] for g in (de, en, unset)] == ["de", "en", None]
    assert (de["annotators"], de["judgments"], de["consensus_agreement"], de["consensus_pairs"]) == (
        1,
        3,
        0.5,
        2,
    )
    assert (en["annotators"], en["judgments"], en["consensus_agreement"], en["consensus_pairs"]) == (
        2,
        5,
        1.0,
        2,
    )
    assert (unset["judgments"], unset["consensus_agreement"], unset["tie_rate"]) == (1, 0.0, 1.0)
    assert de["tie_rate"] == 0.0 and en["tie_rate"] == 0.0
    # de always picks m-a; en picks m-b on comparison 1 twice, m-a three times.
    assert _board(de) == {"m-a": (3, 0, 0, 1.0), "m-b": (0, 3, 0, 0.0)}
    assert _board(en) == {"m-a": (3, 2, 0, 0.6), "m-b": (2, 3, 0, 0.4)}
    assert _board(unset) == {"m-a": (0, 0, 1, 0.5), "m-b": (0, 0, 1, 0.5)}
    assert [r["model"] for r in de["leaderboard"]] == ["m-a", "m-b"]


def test_annotators_without_the_key_form_the_last_group() -> None:
    law, unset = _groups()["expertise"]
    assert (law["value"], law["annotators"], law["judgments"], law["consensus_agreement"]) == (
        "law",
        1,
        2,
        1.0,
    )
    assert _board(law)["m-a"] == (1, 1, 0, 0.5)
    # Annotators 1, 2 and 4: 7 judgments, one of them a tie; agreement (1 + 1 + 0) / (2 + 1 + 1).
    assert (unset["value"], unset["annotators"], unset["judgments"]) == (None, 3, 7)
    assert unset["consensus_agreement"] == 0.5
    assert unset["tie_rate"] == pytest.approx(1 / 7)
    assert _board(unset)["m-a"] == (5, 1, 1, pytest.approx(5.5 / 7))


def test_no_attributes_no_groups() -> None:
    assert attribute_groups(RECORDS, attributes={}, consensus=CONSENSUS, rounds=10) == {}
