"""Which comparisons need a reviewer, and why: plain functions on quality records (no ORM).

A comparison needs review when its agreement (the export's agreement_score over all its
judgments) is below the project's cut-off, when an annotator flagged it, or when a flagged
annotator judged it. annotation.selectors.review removes the ones already reviewed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from annotation.quality.agreement import agreement_score
from annotation.quality.records import JudgmentRecord

# Judgment flags that ask for a second look. "both_bad" is left out: it is the answer the
# annotate page's "Both bad" button gives (a tie), not a doubt about the item.
REVIEW_FLAGS = ("unsafe", "unsure", "broken")

LOW_AGREEMENT = "low_agreement"
FLAGGED = "flagged"
FLAGGED_ANNOTATOR = "flagged_annotator"
# The reasons, in the order entries list them, with what pages say for each.
REASONS = {
    LOW_AGREEMENT: "low agreement",
    FLAGGED: "flagged by an annotator",
    FLAGGED_ANNOTATOR: "judged by a flagged annotator",
}


@dataclass(frozen=True)
class ReviewEntry:
    comparison_id: int
    reasons: tuple[str, ...]  # in the order of REASONS
    agreement: float | None  # None when fewer than two judged a candidate pair
    judgments: int
    flags: tuple[str, ...]  # the review flags annotators raised on it, sorted


def review_entries(
    records: Sequence[JudgmentRecord],
    *,
    flags: Mapping[int, Iterable[str]],
    flagged_annotators: Collection[int],
    min_agreement: float,
) -> list[ReviewEntry]:
    """The comparisons that need review, lowest agreement first (unmeasured ones after every
    measured one), then those with more reasons, then by id.

    `flags` maps comparison ids to the flags its judgments carry (any of Judgment.FLAGS; only
    REVIEW_FLAGS count); `flagged_annotators` are the ids the annotator scores flag.
    """
    by_comparison: dict[int, list[JudgmentRecord]] = defaultdict(list)
    for r in records:
        by_comparison[r.comparison_id].append(r)
    entries = []
    for comparison_id, group in by_comparison.items():
        score = agreement_score(r.ordering for r in group)
        raised = tuple(sorted({f for f in flags.get(comparison_id, ()) if f in REVIEW_FLAGS}))
        reasons = []
        if score is not None and score < min_agreement:
            reasons.append(LOW_AGREEMENT)
        if raised:
            reasons.append(FLAGGED)
        if any(r.annotator_id in flagged_annotators for r in group):
            reasons.append(FLAGGED_ANNOTATOR)
        if reasons:
            entries.append(
                ReviewEntry(
                    comparison_id=comparison_id,
                    reasons=tuple(reasons),
                    agreement=score,
                    judgments=len(group),
                    flags=raised,
                )
            )
    entries.sort(key=lambda e: (e.agreement is None, e.agreement or 0.0, -len(e.reasons), e.comparison_id))
    return entries


def ordering_text(ordering: Sequence[Sequence[int]], labels: Mapping[int, str]) -> str:
    """An ordering in the candidates' labels: "A > B", "A = B", "2 > 1 = 3"."""
    return " > ".join(" = ".join(labels.get(c, f"#{c}") for c in tier) for tier in ordering)
