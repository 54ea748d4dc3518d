"""The reviewing services (accept, override, send back) and the review queue they empty."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from annotation.models import Assignment, AuditEvent, Comparison, Judgment, Project, Review
from annotation.selectors.review import review_queue_get
from annotation.services.assigning import comparison_lease
from annotation.services.judging import judgment_submit, ordering_parse
from annotation.services.reviewing import review_accept, review_override, review_send_back
from rankwise.errors import Conflict, NotFound, ValidationFailed
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_answer, make_comparison

pytestmark = pytest.mark.django_db


def _answer(
    project: Project, user: AbstractBaseUser, pick: str = "first", time_spent_ms: int = 0, **fields: object
) -> Judgment:
    """The user leases their next item and answers it: the slot-0 candidate wins, or slot 1."""
    assignment = comparison_lease(project=project, annotator=user)
    assert assignment is not None, f"{user} got nothing"
    a, b = assignment.comparison.slots.values_list("candidate_id", flat=True)
    winner, loser = (a, b) if pick == "first" else (b, a)
    return judgment_submit(
        project=project,
        annotator=user,
        assignment_id=assignment.pk,
        submission_token=uuid.uuid4().hex,
        answer=make_answer(project=project, ordering=[[winner], [loser]], **fields),
        time_spent_ms=time_spent_ms,
    )


def _slots(comparison: Comparison) -> list[int]:
    return list(comparison.slots.values_list("candidate_id", flat=True))


@pytest.fixture
def disputed(project: Project, bob, charlie) -> Comparison:
    """One comparison, overlap 2: bob prefers slot 0, charlie slot 1 (agreement 0)."""
    project.overlap = 2
    project.save()
    comparison = make_comparison(project=project)
    _answer(project, bob, "first")
    _answer(project, charlie, "second")
    return comparison


def _queue(project: Project) -> list[int]:
    return [e.comparison_id for e in review_queue_get(project=project).entries]


def _judgment_rows(comparison: Comparison) -> list[tuple]:
    return list(comparison.judgments.order_by("id").values_list("id", "ordering", "updated_at"))


def test_accept_records_the_consensus_audited_and_leaves_the_queue(
    project: Project, dave, bob, charlie, erin
) -> None:
    project.overlap = 3
    project.save()
    comparison = make_comparison(project=project)
    a, b = _slots(comparison)
    for user, pick in ((bob, "first"), (charlie, "first"), (erin, "second")):
        _answer(project, user, pick)
    assert _queue(project) == [comparison.pk]  # 1 agreeing annotator pair of 3 < 0.6
    before = _judgment_rows(comparison)

    result = review_accept(project=project, reviewer=dave, comparison_id=comparison.pk, note=" fine ")
    assert result.created
    review = Review.objects.get()
    assert (review.decision, review.ordering, review.note, review.judgment_count) == (
        "accept",
        [[a], [b]],
        "fine",
        3,
    )
    assert review.reviewer == dave
    event = AuditEvent.objects.get(action=AuditEvent.Action.REVIEW)
    assert event.actor == dave and event.target == f"comparison {comparison.pk}"
    assert event.details == {
        "review": review.pk,
        "comparison": comparison.pk,
        "decision": "accept",
        "ordering": [[a], [b]],
        "note": "fine",
    }
    assert _queue(project) == []
    assert _judgment_rows(comparison) == before


def test_a_retried_decision_records_nothing_and_another_one_conflicts(
    project: Project, dave, disputed: Comparison
) -> None:
    first = review_accept(project=project, reviewer=dave, comparison_id=disputed.pk)
    again = review_accept(project=project, reviewer=dave, comparison_id=disputed.pk, note="double click")
    assert not again.created and again.review == first.review
    a, b = _slots(disputed)
    with pytest.raises(Conflict, match="accept the consensus by dave"):
        review_override(
            project=project, reviewer=dave, comparison_id=disputed.pk, ordering=ordering_parse([[b], [a]])
        )
    with pytest.raises(Conflict):
        review_send_back(project=project, reviewer=dave, comparison_id=disputed.pk)
    assert Review.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.REVIEW).count() == 1


def test_override_is_a_new_row_and_the_judgments_stay_as_they_were(
    project: Project, dave, disputed: Comparison
) -> None:
    a, b = _slots(disputed)
    before = _judgment_rows(disputed)
    result = review_override(
        project=project,
        reviewer=dave,
        comparison_id=disputed.pk,
        ordering=ordering_parse([[b, a]]),
        note="both fine",
    )
    assert result.created and result.review.ordering == [sorted([a, b])]
    # The same tie written in the other order is the same decision: a retry.
    again = review_override(
        project=project, reviewer=dave, comparison_id=disputed.pk, ordering=ordering_parse([[a, b]])
    )
    assert not again.created
    with pytest.raises(Conflict):
        review_override(
            project=project, reviewer=dave, comparison_id=disputed.pk, ordering=ordering_parse([[a], [b]])
        )
    with pytest.raises(Conflict):
        review_accept(project=project, reviewer=dave, comparison_id=disputed.pk)
    assert _judgment_rows(disputed) == before
    assert list(Review.objects.values_list("decision", flat=True)) == ["override"]
    assert _queue(project) == []


@pytest.mark.parametrize(
    ("ordering", "field"),
    [([[10**9], [10**9 + 1]], "ordering"), ("b over a", "ordering"), ([], "ordering"), (None, "ordering")],
)
def test_a_bad_override_names_the_field_and_writes_nothing(
    project: Project, dave, disputed: Comparison, ordering: object, field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        review_override(
            project=project, reviewer=dave, comparison_id=disputed.pk, ordering=ordering_parse(ordering)
        )
    assert caught.value.details[0]["field"] == field
    assert not Review.objects.exists() and not AuditEvent.objects.exists()


def test_send_back_is_refused_when_too_few_members_have_not_seen_it(
    project: Project, dave, erin, disputed: Comparison
) -> None:
    # bob and charlie judged it; dave and erin could still be handed it, so three would never come in.
    with pytest.raises(Conflict, match="only 2 member") as caught:
        review_send_back(project=project, reviewer=dave, comparison_id=disputed.pk, extra_judgments=3)
    assert caught.value.details[0]["field"] == "extra_judgments"
    erin.is_active = False
    erin.save()
    # dave once held it and let it go: he is never handed it again.
    now = timezone.now()
    Assignment.objects.create(
        comparison=disputed, annotator=dave, status="skipped", skip_reason="x", leased_at=now, expires_at=now
    )
    with pytest.raises(Conflict, match="every member has seen it"):
        review_send_back(project=project, reviewer=dave, comparison_id=disputed.pk)
    disputed.refresh_from_db()
    assert (disputed.extra_judgments, Review.objects.count()) == (0, 0)
    erin.is_active = True
    erin.save()
    assert review_send_back(project=project, reviewer=dave, comparison_id=disputed.pk).created


def test_decisions_need_a_comparison_of_the_project_with_judgments(project: Project, dave) -> None:
    other = make_comparison(project=ProjectFactory(slug="project-b"))
    with pytest.raises(NotFound):
        review_accept(project=project, reviewer=dave, comparison_id=other.pk)
    empty = make_comparison(project=project)
    with pytest.raises(Conflict, match="no judgments"):
        review_accept(project=project, reviewer=dave, comparison_id=empty.pk)
    with pytest.raises(ValidationFailed) as caught:
        review_accept(project=project, reviewer=dave, comparison_id=empty.pk, note="x" * 2001)
    assert caught.value.details == [{"field": "note", "reason": "at most 2000 characters"}]
    assert not Review.objects.exists()


def test_send_back_hands_the_comparison_to_a_new_annotator_before_other_work(
    project: Project, dave, bob, charlie, erin, disputed: Comparison
) -> None:
    fresh = make_comparison(project=project)  # regular work with no judgment yet
    assert _queue(project) == [disputed.pk]
    result = review_send_back(project=project, reviewer=dave, comparison_id=disputed.pk, note="ask a third")
    assert result.created and (result.review.extra_judgments, result.review.judgment_count) == (1, 2)
    disputed.refresh_from_db()
    assert disputed.extra_judgments == 1
    # Waiting for its extra judgment: out of the queue; a retry records nothing, asking for
    # another number while waiting is refused.
    queue = review_queue_get(project=project)
    assert queue.entries == [] and queue.waiting == {disputed.pk}
    assert not review_send_back(project=project, reviewer=dave, comparison_id=disputed.pk).created
    with pytest.raises(Conflict):
        review_send_back(project=project, reviewer=dave, comparison_id=disputed.pk, extra_judgments=2)
    # bob judged it already: he gets the fresh one; erin gets the sent-back one first.
    assert comparison_lease(project=project, annotator=bob).comparison_id == fresh.pk
    assert comparison_lease(project=project, annotator=erin).comparison_id == disputed.pk
    _answer(project, erin, "first")
    # Its one extra judgment is in, and 2 against 1 is still below 0.6: back in the queue.
    disputed.refresh_from_db()
    assert disputed.judgment_count == 3
    assert _queue(project) == [disputed.pk]
    assert review_queue_get(project=project).waiting == set()
    # Nobody else may get it now: three judgments of a wanted 2 + 1.
    other = UserFactory(username="frank", password=None)
    MembershipFactory(project=project, user=other)
    assert comparison_lease(project=project, annotator=other).comparison_id == fresh.pk


@pytest.mark.parametrize("extra", [0, 11, "2", 1.5])
def test_send_back_asks_for_one_to_ten_more(
    project: Project, dave, disputed: Comparison, extra: object
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        review_send_back(project=project, reviewer=dave, comparison_id=disputed.pk, extra_judgments=extra)
    assert caught.value.details[0]["field"] == "extra_judgments"
    disputed.refresh_from_db()
    assert disputed.extra_judgments == 0 and not Review.objects.exists()


def test_queue_takes_flagged_items_and_flagged_annotators_under_the_project_thresholds(
    project: Project, bob, charlie
) -> None:
    comparisons = [make_comparison(project=project) for _ in range(3)]
    _answer(project, bob, "first", flags=["unsure"], time_spent_ms=500)
    _answer(project, bob, "first", flags=["both_bad"], time_spent_ms=500)
    _answer(project, charlie, "first", time_spent_ms=9000)
    queue = review_queue_get(project=project)
    # Overlap 1: agreement is unmeasured; only the "unsure" flag calls for review ("both_bad" is an
    # answer), and with the default thresholds nobody is flagged after 2 judgments.
    assert [(e.comparison_id, e.reasons) for e in queue.entries] == [(comparisons[0].pk, ("flagged",))]
    # The project's own thresholds: flags from the first judgment, and bob is too fast.
    project.min_items = 1
    project.save()
    queue = review_queue_get(project=project)
    assert [(e.comparison_id, e.reasons) for e in queue.entries] == [
        (comparisons[0].pk, ("flagged", "flagged_annotator")),
        (comparisons[1].pk, ("flagged_annotator",)),
    ]
    assert [e.comparison_id for e in review_queue_get(project=project, reason="flagged").entries] == [
        comparisons[0].pk
    ]


def test_the_agreement_cut_off_is_the_project_s(project: Project, disputed: Comparison) -> None:
    assert _queue(project) == [disputed.pk]
    project.review_min_agreement = 0.0
    project.save()
    assert _queue(project) == []
