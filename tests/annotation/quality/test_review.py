"""Which comparisons need review, on hand-worked judgments."""

from __future__ import annotations

import pytest

from annotation.quality.records import JudgmentRecord, make_ordering
from annotation.quality.review import (
    FLAGGED,
    FLAGGED_ANNOTATOR,
    LOW_AGREEMENT,
    ordering_text,
    review_entries,
)


def _judgment(comparison: int, annotator: int | None, tiers: list[list[int]]) -> JudgmentRecord:
    slots = tuple(sorted(c for tier in tiers for c in tier))
    return JudgmentRecord(
        comparison_id=comparison, annotator_id=annotator, ordering=make_ordering(tiers), slots=slots
    )


RECORDS = [
    # 1: annotators 1 and 2 disagree: agreement 0.
    _judgment(1, 1, [[10], [11]]),
    _judgment(1, 2, [[11], [10]]),
    # 2: 1 and 2 agree, 3 disagrees: 1 agreeing annotator pair of 3.
    _judgment(2, 1, [[20], [21]]),
    _judgment(2, 2, [[20], [21]]),
    _judgment(2, 3, [[21], [20]]),
    # 3: full agreement, but flagged "unsure" by annotator 2.
    _judgment(3, 1, [[30], [31]]),
    _judgment(3, 2, [[30], [31]]),
    # 4: judged once (unmeasured), flagged "both_bad", which is an answer, not a review flag.
    _judgment(4, 1, [[40, 41]]),
    # 5: judged once, by annotator 3.
    _judgment(5, 3, [[50], [51]]),
    # 6: a ranking; the pairs (60,61) and (60,62) agree, (61,62) does not: 2/3.
    _judgment(6, 1, [[60], [61], [62]]),
    _judgment(6, 2, [[60], [62], [61]]),
    # 7: an imported judgment and an annotator's that disagree with it: imported ones count too.
    _judgment(7, None, [[70], [71]]),
    _judgment(7, 1, [[71], [70]]),
]
FLAGS = {3: ["unsure"], 4: ["both_bad"]}


def test_reasons_and_order_by_hand() -> None:
    entries = review_entries(RECORDS, flags=FLAGS, flagged_annotators={3}, min_agreement=0.6)
    # Lowest agreement first; at 0.0, comparison 1 and 7 tie and go by id; unmeasured last.
    assert [(e.comparison_id, e.reasons) for e in entries] == [
        (1, (LOW_AGREEMENT,)),
        (7, (LOW_AGREEMENT,)),
        (2, (LOW_AGREEMENT, FLAGGED_ANNOTATOR)),
        (3, (FLAGGED,)),
        (5, (FLAGGED_ANNOTATOR,)),
    ]
    by_id = {e.comparison_id: e for e in entries}
    assert by_id[2].agreement == pytest.approx(1 / 3) and by_id[2].judgments == 3
    assert by_id[3].agreement == 1.0 and by_id[3].flags == ("unsure",)
    assert by_id[5].agreement is None and by_id[5].flags == ()


def test_the_cut_off_is_strict_and_decides_the_ranking() -> None:
    at = {
        e.comparison_id for e in review_entries(RECORDS, flags={}, flagged_annotators=(), min_agreement=2 / 3)
    }
    assert at == {1, 2, 7}  # 2/3 is not below 2/3
    above = review_entries(RECORDS, flags={}, flagged_annotators=(), min_agreement=0.7)
    assert {e.comparison_id for e in above} == {1, 2, 6, 7}
    assert review_entries(RECORDS, flags={}, flagged_annotators=(), min_agreement=0.0) == []


def test_ordering_text_uses_the_labels() -> None:
    assert ordering_text([[11], [10]], {10: "A", 11: "B"}) == "B > A"
    assert ordering_text([[10, 11]], {10: "A", 11: "B"}) == "A = B"
    assert ordering_text([[2], [1, 3]], {1: "1", 2: "2", 3: "3"}) == "2 > 1 = 3"
