"""The assembled quality report: progress capped at the overlap, days without judgments, JSON shape."""

from __future__ import annotations

import json

import pytest

from annotation.quality.records import JudgmentRecord, make_ordering
from annotation.quality.report import QualityInputs, low_agreement, progress, quality_report, timeline


def _record(comparison: int, annotator: int | None, winner: int, loser: int, day: str) -> JudgmentRecord:
    return JudgmentRecord(
        comparison_id=comparison,
        annotator_id=annotator,
        ordering=make_ordering([[winner], [loser]]),
        slots=(min(winner, loser), max(winner, loser)),
        presented_order=(winner, loser),
        day=day,
        models={winner: f"m{winner % 2}", loser: f"m{loser % 2}"},
    )


RECORDS = [
    _record(1, 1, 10, 11, "2026-11-01"),
    _record(1, 2, 10, 11, "2026-11-01"),
    _record(1, 3, 11, 10, "2026-11-04"),
    _record(2, 1, 20, 21, "2026-11-04"),
    _record(3, None, 31, 30, "2026-11-04"),  # imported: no annotator
]


def test_progress_counts_at_most_overlap_judgments_per_comparison() -> None:
    assert progress(RECORDS, comparisons=4, overlap=2) == {
        "comparisons": 4,
        "overlap": 2,
        "target": 8,
        "judgments": 5,
        "counted": 4,
        "complete_comparisons": 1,
        "fraction": 0.5,
    }
    assert progress([], comparisons=0, overlap=2)["fraction"] is None


def test_timeline_fills_days_without_judgments() -> None:
    assert timeline(RECORDS) == [
        {"day": "2026-11-01", "judgments": 2, "cumulative": 2},
        {"day": "2026-11-02", "judgments": 0, "cumulative": 2},
        {"day": "2026-11-03", "judgments": 0, "cumulative": 2},
        {"day": "2026-11-04", "judgments": 3, "cumulative": 5},
    ]
    assert timeline([]) == []


def test_report_is_json_ready_and_counts_imported_judgments_only_as_battles() -> None:
    report = quality_report(
        QualityInputs(records=RECORDS, comparisons=3, overlap=3, usernames={1: "alice"}), rounds=20
    )
    json.dumps(report)
    assert [a["username"] for a in report["annotators"]] == ["alice", "#2", "#3"]
    assert report["position_bias"]["decided"] == 4  # the imported judgment has no annotator
    assert sum(m["battles"] for m in report["leaderboard"]) == 2 * 5  # each battle has two sides
    assert report["agreement"]["pairwise_rate"] == pytest.approx(1 / 3)
    assert report["flagged"] == []


def test_low_agreement_lists_comparisons_with_disagreement_lowest_first() -> None:
    records = RECORDS + [_record(2, 2, 21, 20, "2026-11-04"), _record(2, 3, 21, 20, "2026-11-04")]
    records += [_record(4, a, 41, 40, "2026-11-04") for a in (1, 2, 3, 4)] + [
        _record(4, 5, 40, 41, "2026-11-04")
    ]
    # Comparison 1: votes 10, 10, 11 → 1 of 3 judgment pairs agree; comparison 2: 20, 21, 21 → 1 of 3,
    # comparison 4: four against one → 6 of 10; comparison 3 has a single judgment.
    rows = low_agreement(records)
    assert [(row["comparison_id"], row["judgments"]) for row in rows] == [(1, 3), (2, 3), (4, 5)]
    assert [row["agreement"] for row in rows] == pytest.approx([1 / 3, 1 / 3, 0.6])
    assert low_agreement(records, below=0.5) == rows[:2]
    unanimous = [_record(5, a, 50, 51, "2026-11-04") for a in (1, 2)]
    assert low_agreement(unanimous) == []
