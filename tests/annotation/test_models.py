"""Database constraints on the annotation models."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.models import Assignment, Judgment, Project, Review
from tests.factories import (
    CandidateFactory,
    MembershipFactory,
    ProjectFactory,
    PromptFactory,
    UserFactory,
    make_comparison,
)

pytestmark = pytest.mark.django_db


def _violates(fn) -> bool:
    try:
        with transaction.atomic():
            fn()
    except IntegrityError:
        return True
    return False


def test_pairwise_project_must_have_two_candidates_per_comparison() -> None:
    assert _violates(lambda: ProjectFactory(mode=Project.Mode.PAIRWISE, candidates_per_comparison=3))
    assert _violates(lambda: ProjectFactory(mode=Project.Mode.RANKING, candidates_per_comparison=2))
    assert _violates(lambda: ProjectFactory(mode=Project.Mode.RANKING, candidates_per_comparison=5))
    ProjectFactory(mode=Project.Mode.RANKING, candidates_per_comparison=4)


def test_overlap_and_gold_rate_are_bounded() -> None:
    assert _violates(lambda: ProjectFactory(overlap=0))
    assert _violates(lambda: ProjectFactory(gold_rate=1.5))


def test_user_is_a_member_of_a_project_once() -> None:
    membership = MembershipFactory()
    assert _violates(lambda: MembershipFactory(project=membership.project, user=membership.user))


def test_same_prompt_and_candidate_content_is_stored_once() -> None:
    prompt = PromptFactory()
    assert _violates(lambda: PromptFactory(project=prompt.project, content_hash=prompt.content_hash))
    candidate = CandidateFactory(prompt=prompt)
    assert _violates(lambda: CandidateFactory(prompt=prompt, content_hash=candidate.content_hash))


def test_annotator_holds_one_assignment_and_one_judgment_per_comparison() -> None:
    comparison = make_comparison()
    bob = UserFactory(username="bob")
    now = timezone.now()
    assignment = Assignment.objects.create(
        comparison=comparison, annotator=bob, leased_at=now, expires_at=now
    )
    assert _violates(
        lambda: Assignment.objects.create(comparison=comparison, annotator=bob, leased_at=now, expires_at=now)
    )
    ids = [c.pk for c in comparison.candidates.all()]
    Judgment.objects.create(
        comparison=comparison,
        assignment=assignment,
        annotator=bob,
        ordering=[[ids[0]], [ids[1]]],
        submission_token="t1",
    )
    assert _violates(
        lambda: Judgment.objects.create(
            comparison=comparison, annotator=bob, ordering=[[ids[1]], [ids[0]]], submission_token="t2"
        )
    )


def test_submission_token_is_unique_across_judgments() -> None:
    first, second = make_comparison(), make_comparison()
    Judgment.objects.create(comparison=first, ordering=[], source="imported", submission_token="same")
    assert _violates(
        lambda: Judgment.objects.create(
            comparison=second, ordering=[], source="imported", submission_token="same"
        )
    )


def test_imported_judgments_without_annotator_may_repeat_per_comparison() -> None:
    comparison = make_comparison()
    Judgment.objects.create(comparison=comparison, ordering=[], source="imported", submission_token="a")
    Judgment.objects.create(comparison=comparison, ordering=[], source="imported", submission_token="b")
    assert comparison.judgments.count() == 2


def test_comparison_slots_are_unique_by_position_and_candidate() -> None:
    comparison = make_comparison(candidates=3)
    slot = comparison.slots.first()
    assert _violates(lambda: comparison.slots.create(candidate=slot.candidate, position=9))
    other = CandidateFactory(prompt=comparison.prompt)
    assert _violates(lambda: comparison.slots.create(candidate=other, position=slot.position))


def test_quality_thresholds_are_bounded() -> None:
    assert _violates(lambda: ProjectFactory(min_consensus_agreement=1.5))
    assert _violates(lambda: ProjectFactory(review_min_agreement=-0.1))
    assert _violates(lambda: ProjectFactory(min_bias_effect=0.75))
    ProjectFactory(min_consensus_agreement=1.0, review_min_agreement=0.0, bias_p_value=0.0)


def test_a_comparison_has_one_settling_review_and_a_send_back_asks_for_more() -> None:
    comparison = make_comparison()
    ordering = [[s.candidate_id for s in comparison.slots.all()]]
    Review.objects.create(comparison=comparison, decision="send_back", extra_judgments=1)
    Review.objects.create(comparison=comparison, decision="send_back", extra_judgments=2)
    Review.objects.create(comparison=comparison, decision="accept", ordering=ordering)
    assert _violates(
        lambda: Review.objects.create(comparison=comparison, decision="override", ordering=ordering)
    )
    other = make_comparison()
    assert _violates(lambda: Review.objects.create(comparison=other, decision="send_back", extra_judgments=0))
    assert _violates(lambda: Review.objects.create(comparison=other, decision="override", ordering=None))
