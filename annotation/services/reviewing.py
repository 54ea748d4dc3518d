"""Reviewers' decisions on comparisons: accept the consensus, override it, or send it back.

Each decision is a new Review row plus its AuditEvent, written in one transaction: annotators'
Judgment rows are never edited. Accept and override settle a comparison (at most one settling
review per comparison, a database constraint); exports then use the review's ordering
(annotation.services.exporting). A send back asks for more judgments by raising the comparison's
extra_judgments, which the assigning service's pool reads.

Every decision is safe to retry: the same decision again returns the review already recorded
(`created` False) and writes nothing, so a double click or a resent request records one review.
A different decision on a settled comparison is refused (Conflict).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Greatest, Least

from annotation.models import Assignment, AuditEvent, Comparison, Judgment, Membership, Project, Review
from annotation.quality import agreement
from annotation.selectors.review import comparison_get
from annotation.services.auditing import audit_record
from annotation.services.judging import Answer, Ordering, answer_check
from rankwise.errors import Conflict, NotFound, ValidationFailed

NOTE_MAX = 2000
EXTRA_JUDGMENTS_MAX = 10
# Comparison.extra_judgments is a PositiveSmallIntegerField.
_EXTRA_CEILING = 32_767


@dataclass(frozen=True)
class ReviewResult:
    review: Review
    created: bool  # False when this decision was already recorded (a retried request)


def review_accept(
    *, project: Project, reviewer: AbstractBaseUser, comparison_id: int, note: str = ""
) -> ReviewResult:
    """Accepts the consensus of the comparison's judgments, recording that ordering as it stands
    now (agreement.consensus_ordering over every judgment).

    Raises NotFound (not a comparison of the project), ValidationFailed (note too long) and
    Conflict (no judgments yet, or already overridden).
    """
    note = _clean_note(note)
    with transaction.atomic():
        comparison = _comparison_lock(project=project, comparison_id=comparison_id)
        settled = _settling_review(comparison)
        if settled is not None:
            if settled.decision == Review.Decision.ACCEPT:
                return ReviewResult(review=settled, created=False)
            raise _already_settled(settled)
        orderings = _orderings(comparison)
        return _record(
            project=project,
            comparison=comparison,
            reviewer=reviewer,
            decision=Review.Decision.ACCEPT,
            ordering=agreement.consensus_ordering(orderings),
            note=note,
            judgment_count=len(orderings),
        )


def review_override(
    *, project: Project, reviewer: AbstractBaseUser, comparison_id: int, ordering: Ordering, note: str = ""
) -> ReviewResult:
    """Records the reviewer's own ordering (judging.ordering_parse: tiers of the comparison's
    candidate ids, best first, ties sharing a tier) as the comparison's answer; the annotators'
    judgments stay as they are.

    Raises NotFound, ValidationFailed (an ordering that is not of exactly this comparison's
    candidates, field "ordering"; a note too long) and Conflict (no judgments yet, or already
    settled by another decision or another ordering).
    """
    note = _clean_note(note)
    comparison = comparison_get(project=project, comparison_id=comparison_id)
    candidate_ids = list(comparison.slots.values_list("candidate_id", flat=True))
    answer_check(answer=Answer(ordering=ordering), candidate_ids=candidate_ids)
    tiers = _canonical(ordering)
    with transaction.atomic():
        comparison = _comparison_lock(project=project, comparison_id=comparison_id)
        settled = _settling_review(comparison)
        if settled is not None:
            if settled.decision == Review.Decision.OVERRIDE and _canonical(settled.ordering) == tiers:
                return ReviewResult(review=settled, created=False)
            raise _already_settled(settled)
        orderings = _orderings(comparison)
        return _record(
            project=project,
            comparison=comparison,
            reviewer=reviewer,
            decision=Review.Decision.OVERRIDE,
            ordering=tiers,
            note=note,
            judgment_count=len(orderings),
        )


def review_send_back(
    *,
    project: Project,
    reviewer: AbstractBaseUser,
    comparison_id: int,
    extra_judgments: int = 1,
    note: str = "",
) -> ReviewResult:
    """Asks for `extra_judgments` (1–10) more judgments than the comparison has now: raises its
    extra_judgments so that overlap + extra_judgments is at least that many (when that is still
    within project.overlap, it simply stays in the regular pool). The assigning service hands
    sent-back comparisons out before other regular items, only to annotators who have not seen
    them. It leaves the review queue until those judgments are in, then comes back if it still
    needs review.

    Raises NotFound, ValidationFailed (extra_judgments out of range, note too long) and Conflict
    (no judgments yet, already settled, already sent back and still waiting, or fewer members
    who have not seen it than judgments asked for: those would never come in).
    """
    note = _clean_note(note)
    if type(extra_judgments) is not int or not 1 <= extra_judgments <= EXTRA_JUDGMENTS_MAX:
        raise ValidationFailed(
            f"Ask for 1 to {EXTRA_JUDGMENTS_MAX} more judgments.",
            details=[
                {"field": "extra_judgments", "reason": f"a whole number from 1 to {EXTRA_JUDGMENTS_MAX}"}
            ],
        )
    with transaction.atomic():
        comparison = _comparison_lock(project=project, comparison_id=comparison_id)
        settled = _settling_review(comparison)
        if settled is not None:
            raise _already_settled(settled)
        orderings = _orderings(comparison)
        pending = comparison.reviews.filter(decision=Review.Decision.SEND_BACK).order_by("-id").first()
        if pending is not None and len(orderings) < pending.judgment_count + pending.extra_judgments:
            if pending.extra_judgments == extra_judgments and len(orderings) == pending.judgment_count:
                return ReviewResult(review=pending, created=False)
            raise Conflict(
                f"This comparison was already sent back for {pending.extra_judgments} more "
                "judgment(s), which have not all come in yet.",
                details=[{"field": "extra_judgments", "reason": "already sent back, still waiting"}],
            )
        _fresh_annotators_check(comparison=comparison, extra_judgments=extra_judgments)
        wanted = len(orderings) + extra_judgments - project.overlap
        Comparison.objects.filter(pk=comparison.pk).update(
            extra_judgments=Least(Greatest(F("extra_judgments"), wanted), _EXTRA_CEILING)
        )
        return _record(
            project=project,
            comparison=comparison,
            reviewer=reviewer,
            decision=Review.Decision.SEND_BACK,
            ordering=None,
            note=note,
            judgment_count=len(orderings),
            extra_judgments=extra_judgments,
        )


def _fresh_annotators_check(*, comparison: Comparison, extra_judgments: int) -> None:
    """Conflict unless at least `extra_judgments` active members could still be handed the
    comparison (the assigning service never gives anyone an item twice)."""
    fresh = (
        Membership.objects.filter(project_id=comparison.project_id, user__is_active=True)
        .exclude(Exists(Assignment.objects.filter(comparison=comparison, annotator=OuterRef("user"))))
        .exclude(Exists(Judgment.objects.filter(comparison=comparison, annotator=OuterRef("user"))))
        .count()
    )
    if fresh >= extra_judgments:
        return
    left = f"only {fresh} member(s) of this project have not seen it" if fresh else "every member has seen it"
    raise Conflict(
        f"Sending this comparison back for {extra_judgments} more judgment(s) would wait forever: "
        f"{left}, and nobody is handed an item twice. Add annotators to the project, or ask for fewer.",
        details=[{"field": "extra_judgments", "reason": f"at most {fresh}: members who have not seen it"}],
    )


def _clean_note(note: object) -> str:
    if not isinstance(note, str):
        raise ValidationFailed("The note is text.", details=[{"field": "note", "reason": "text"}])
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise ValidationFailed(
            "The note is too long.", details=[{"field": "note", "reason": f"at most {NOTE_MAX} characters"}]
        )
    return note


def _comparison_lock(*, project: Project, comparison_id: int) -> Comparison:
    """The comparison, locked until the transaction ends: decisions on one comparison queue up
    behind each other, so the check for an earlier review and the new row cannot interleave.
    Must run inside a transaction."""
    comparison = (
        Comparison.objects.select_for_update(no_key=True).filter(pk=comparison_id, project=project).first()
    )
    if comparison is None:
        raise NotFound("This comparison is not part of this project.")
    return comparison


def _settling_review(comparison: Comparison) -> Review | None:
    return comparison.reviews.filter(decision__in=Review.SETTLING).select_related("reviewer").first()


def _already_settled(review: Review) -> Conflict:
    who = review.reviewer.username if review.reviewer else "a former member"
    return Conflict(
        f"This comparison was already reviewed: {review.get_decision_display().lower()} by {who} "
        f"on {review.created_at:%Y-%m-%d %H:%M}.",
        details=[{"field": "decision", "reason": f"already settled ({review.decision})"}],
    )


def _orderings(comparison: Comparison) -> list[list[list[int]]]:
    orderings = list(comparison.judgments.order_by("id").values_list("ordering", flat=True))
    if not orderings:
        raise Conflict("There is nothing to review yet: this comparison has no judgments.")
    return orderings


def _canonical(ordering: Sequence[Sequence[int]]) -> list[list[int]]:
    """Tiers with their members sorted, so that equal orderings compare equal."""
    return [sorted(int(c) for c in tier) for tier in ordering]


def _record(
    *,
    project: Project,
    comparison: Comparison,
    reviewer: AbstractBaseUser,
    decision: str,
    ordering: list[list[int]] | None,
    note: str,
    judgment_count: int,
    extra_judgments: int = 0,
) -> ReviewResult:
    """Writes the review and its audit event; needs the comparison's lock (_comparison_lock)."""
    review = Review.objects.create(
        comparison=comparison,
        reviewer=reviewer,
        decision=decision,
        ordering=ordering,
        note=note,
        extra_judgments=extra_judgments,
        judgment_count=judgment_count,
    )
    details: dict[str, object] = {"review": review.pk, "comparison": comparison.pk, "decision": decision}
    if ordering is not None:
        details["ordering"] = ordering
    if extra_judgments:
        details["extra_judgments"] = extra_judgments
    if note:
        details["note"] = note
    # In the same transaction as the review: a review is never without its audit row, and a
    # retry that records nothing audits nothing.
    audit_record(
        actor=reviewer,
        action=AuditEvent.Action.REVIEW,
        project=project,
        target=f"comparison {comparison.pk}",
        details=details,
    )
    return ReviewResult(review=review, created=True)
