"""comparison_lease, assignment_skip and the queue counts: overlap, expiry, skips, gold, priority."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotation.models import Assignment, Comparison, JudgmentTally, Project
from annotation.selectors import annotating as selectors
from annotation.services import assigning
from annotation.services.assigning import assignment_skip, comparison_lease
from annotation.services.judging import judgment_submit
from rankwise.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_answer, make_comparison

pytestmark = pytest.mark.django_db


def _annotators(project: Project, n: int) -> list:
    # Without a password: hashing one costs a quarter of a second.
    users = [UserFactory(password=None) for _ in range(n)]
    for user in users:
        MembershipFactory(project=project, user=user)
    return users


def _submit(project: Project, user, assignment: Assignment, token: str) -> None:
    first, *rest = assignment.presented_order
    judgment_submit(
        project=project,
        annotator=user,
        assignment_id=assignment.pk,
        submission_token=token,
        answer=make_answer(project=project, ordering=[[first], rest]),
    )


def test_reloading_returns_the_same_lease(project: Project, bob) -> None:
    make_comparison(project=project)
    make_comparison(project=project)
    first = comparison_lease(project=project, annotator=bob)
    assert first is not None
    assert comparison_lease(project=project, annotator=bob) == first
    assert Assignment.objects.count() == 1


def test_each_comparison_is_handed_to_overlap_distinct_annotators(project: Project) -> None:
    project.overlap = 2
    project.save()
    comparison = make_comparison(project=project)
    alice, bob, charlie = _annotators(project, 3)
    assert comparison_lease(project=project, annotator=alice).comparison == comparison
    assert comparison_lease(project=project, annotator=bob).comparison == comparison
    assert comparison_lease(project=project, annotator=charlie) is None


def test_annotator_never_gets_the_same_comparison_twice(project: Project, bob) -> None:
    project.overlap = 3
    project.save()
    make_comparison(project=project)
    lease = comparison_lease(project=project, annotator=bob)
    _submit(project, bob, lease, "token-0001")
    assert comparison_lease(project=project, annotator=bob) is None


def test_expired_lease_returns_comparison_to_pool(project: Project, bob, charlie) -> None:
    comparison = make_comparison(project=project)
    lease = comparison_lease(project=project, annotator=bob)
    assert comparison_lease(project=project, annotator=charlie) is None
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    again = comparison_lease(project=project, annotator=charlie)
    assert again is not None and again.comparison == comparison
    # The annotator whose lease ran out is not handed it again.
    assert comparison_lease(project=project, annotator=bob) is None


def test_the_sweep_marks_only_leases_that_ran_out(project: Project, bob, charlie) -> None:
    make_comparison(project=project)
    make_comparison(project=project)
    late = comparison_lease(project=project, annotator=bob)
    current = comparison_lease(project=project, annotator=charlie)
    Assignment.objects.filter(pk=late.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert assigning.assignments_expire() == 1
    late.refresh_from_db()
    current.refresh_from_db()
    assert (late.status, current.status) == (Assignment.Status.EXPIRED, Assignment.Status.ACTIVE)
    assert late.finished_at is not None and current.finished_at is None
    assert assigning.assignments_expire() == 0


def test_lease_lasts_the_project_lease_minutes(project: Project, bob) -> None:
    project.lease_minutes = 7
    project.save()
    make_comparison(project=project)
    lease = comparison_lease(project=project, annotator=bob)
    assert lease.expires_at - lease.leased_at == timedelta(minutes=7)


def test_skipped_item_goes_to_others_not_back(project: Project, bob, charlie) -> None:
    comparison = make_comparison(project=project)
    lease = comparison_lease(project=project, annotator=bob)
    skipped = assignment_skip(
        project=project, annotator=bob, assignment_id=lease.pk, reason="I can't read Rust"
    )
    assert skipped.status == Assignment.Status.SKIPPED and skipped.skip_reason == "I can't read Rust"
    assert comparison_lease(project=project, annotator=bob) is None
    assert comparison_lease(project=project, annotator=charlie).comparison == comparison


def test_skip_needs_a_reason_and_ones_own_active_lease(project: Project, bob, charlie, mallory) -> None:
    make_comparison(project=project)
    lease = comparison_lease(project=project, annotator=bob)
    with pytest.raises(ValidationFailed):
        assignment_skip(project=project, annotator=bob, assignment_id=lease.pk, reason="  ")
    with pytest.raises(NotAllowed):
        assignment_skip(project=project, annotator=charlie, assignment_id=lease.pk, reason="not mine")
    other = Project.objects.get(slug="project-b")
    with pytest.raises(NotFound):
        assignment_skip(project=other, annotator=bob, assignment_id=lease.pk, reason="wrong project")
    assignment_skip(project=project, annotator=bob, assignment_id=lease.pk, reason="twice")
    # A retried skip is harmless.
    assert (
        assignment_skip(project=project, annotator=bob, assignment_id=lease.pk, reason="twice").pk == lease.pk
    )


def test_skip_of_an_expired_lease_is_refused(project: Project, bob) -> None:
    make_comparison(project=project)
    lease = comparison_lease(project=project, annotator=bob)
    Assignment.objects.filter(pk=lease.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(Conflict):
        assignment_skip(project=project, annotator=bob, assignment_id=lease.pk, reason="late")


def test_higher_priority_first_then_fewest_judgments(project: Project) -> None:
    project.overlap = 3
    project.save()
    low = make_comparison(project=project, priority=0)
    high = make_comparison(project=project, priority=5)
    busy = make_comparison(project=project, priority=0, judgment_count=2)
    users = _annotators(project, 3)
    assert comparison_lease(project=project, annotator=users[0]).comparison == high
    _submit(project, users[0], users[0].assignments.get(), "token-prio-1")
    assert comparison_lease(project=project, annotator=users[0]).comparison == low
    assert busy.judgment_count == 2


def test_presented_order_is_a_shuffle_of_the_candidates(project: Project) -> None:
    project.mode, project.candidates_per_comparison, project.overlap = "ranking", 4, 40
    project.save()
    comparison = make_comparison(project=project, candidates=4)
    ids = list(comparison.slots.values_list("candidate_id", flat=True))
    orders = Counter()
    for user in _annotators(project, 40):
        order = comparison_lease(project=project, annotator=user).presented_order
        assert sorted(order) == sorted(ids)
        orders[tuple(order)] += 1
    # 24 possible orders: 40 draws from a fair shuffle show many of them and never only slot order.
    assert len(orders) >= 8


def test_gold_items_are_mixed_in_at_the_gold_rate(project: Project) -> None:
    project.gold_rate = 1.0
    project.save()
    gold = make_comparison(project=project)
    Comparison.objects.filter(pk=gold.pk).update(gold_ordering=[[gold.slots.first().candidate_id]])
    make_comparison(project=project)
    first, second = _annotators(project, 2)
    # Gold is not bounded by overlap (1 here): both annotators are checked on it.
    assert comparison_lease(project=project, annotator=first).comparison_id == gold.pk
    assert comparison_lease(project=project, annotator=second).comparison_id == gold.pk


def test_gold_items_are_not_served_at_gold_rate_zero(project: Project, bob) -> None:
    gold = make_comparison(project=project, gold_ordering=[[1]], priority=10)
    regular = make_comparison(project=project)
    lease = comparison_lease(project=project, annotator=bob)
    assert lease.comparison == regular
    _submit(project, bob, lease, "token-gold-0")
    # Gold alone does not keep the queue going.
    assert comparison_lease(project=project, annotator=bob) is None
    assert gold.assignments.count() == 0


def test_queue_counts(project: Project, bob, charlie) -> None:
    for _ in range(3):
        make_comparison(project=project)
    assert selectors.queue_counts(project=project, annotator=bob) == selectors.QueueCounts(0, 0, 3)
    lease = comparison_lease(project=project, annotator=bob)
    assert selectors.queue_counts(project=project, annotator=charlie).remaining == 2
    _submit(project, bob, lease, "token-count")
    assert selectors.queue_counts(project=project, annotator=bob) == selectors.QueueCounts(1, 1, 2)


def test_done_counts_are_per_project_and_day(project: Project, bob) -> None:
    other = ProjectFactory()
    MembershipFactory(project=other, user=bob)
    for _ in range(2):
        make_comparison(project=project)
        make_comparison(project=other)
    _submit(project, bob, comparison_lease(project=project, annotator=bob), "token-day-1")
    _submit(project, bob, comparison_lease(project=project, annotator=bob), "token-day-2")
    _submit(other, bob, comparison_lease(project=other, annotator=bob), "token-day-3")
    counts = selectors.queue_counts(project=project, annotator=bob)
    assert (counts.done_today, counts.done_total) == (2, 2)
    tomorrow = selectors.queue_counts(project=project, annotator=bob, now=timezone.now() + timedelta(days=1))
    assert (tomorrow.done_today, tomorrow.done_total) == (0, 2)
    assert JudgmentTally.objects.get(project=other, annotator=bob).judgments == 1


def test_queue_counts_stop_counting_at_the_cap(project: Project, bob, monkeypatch) -> None:
    monkeypatch.setattr(selectors, "REMAINING_COUNT_MAX", 3)
    for _ in range(5):
        make_comparison(project=project)

    def counts():
        return selectors.queue_counts(project=project, annotator=bob, fresh=True)

    assert counts() == selectors.QueueCounts(0, 0, 3, True)
    lease = comparison_lease(project=project, annotator=bob)
    _submit(project, bob, lease, "token-cap-1")
    lease = comparison_lease(project=project, annotator=bob)
    _submit(project, bob, lease, "token-cap-2")
    # Three left: the count reaches the cap exactly, so it cannot tell whether more are left.
    assert counts() == selectors.QueueCounts(2, 2, 3, True)
    lease = comparison_lease(project=project, annotator=bob)
    # Two open plus the held one is three again; after submitting it, two, counted exactly.
    assert counts().remaining == 3
    _submit(project, bob, lease, "token-cap-3")
    assert counts() == selectors.QueueCounts(3, 3, 2, False)


def test_a_count_at_the_cap_is_remembered_while_the_done_counts_stay_current(
    project: Project, bob, monkeypatch
) -> None:
    monkeypatch.setattr(selectors, "REMAINING_COUNT_MAX", 3)
    for _ in range(5):
        make_comparison(project=project)

    def counted(**kwargs) -> tuple[selectors.QueueCounts, bool]:
        """The counts, and whether they walked the pool to count what is left."""
        with CaptureQueriesContext(connection) as queries:
            counts = selectors.queue_counts(project=project, annotator=bob, **kwargs)
        (query,) = queries.captured_queries
        return counts, "LIMIT 3" in query["sql"]

    assert counted() == (selectors.QueueCounts(0, 0, 3, True), True)
    for n in range(3):
        _submit(project, bob, comparison_lease(project=project, annotator=bob), f"token-kept-{n}")
    # Two are left now, but the count at the cap stands for a while; the done counts do not wait.
    assert counted() == (selectors.QueueCounts(3, 3, 3, True), False)
    assert counted(fresh=True) == (selectors.QueueCounts(3, 3, 2, False), True)
    # A fresh count below the cap forgets the remembered one.
    assert counted() == (selectors.QueueCounts(3, 3, 2, False), True)


def test_projects_do_not_share_leases(project: Project, bob) -> None:
    other = ProjectFactory()
    MembershipFactory(project=other, user=bob)
    make_comparison(project=project)
    theirs = make_comparison(project=other)
    comparison_lease(project=project, annotator=bob)
    assert comparison_lease(project=other, annotator=bob).comparison == theirs


def test_a_row_filled_before_the_claim_held_it_sends_the_claim_to_the_next_row(
    project: Project, bob, charlie, monkeypatch
) -> None:
    # What a claim sees when another one leased its row after the claim's snapshot was taken: the
    # locking statement returns a row that no longer has room, and the insert must not take it.
    full = make_comparison(project=project, priority=1)
    free = make_comparison(project=project)
    assert comparison_lease(project=project, annotator=charlie).comparison == full
    real_first_free = assigning._Claim.first_free

    def stale_first_free(claim, pool, *, only_if_idle=False, tried=()):
        if only_if_idle:
            return full.pk, list(full.slots.values_list("candidate_id", flat=True))
        return real_first_free(claim, pool, only_if_idle=only_if_idle, tried=tried)

    monkeypatch.setattr(assigning._Claim, "first_free", stale_first_free)
    assert comparison_lease(project=project, annotator=bob).comparison == free
    assert full.assignments.count() == 1 and Assignment.objects.filter(annotator=bob).count() == 1


def test_sent_back_and_gold_come_before_a_free_regular_row(project: Project, bob, charlie) -> None:
    project.gold_rate = 1.0
    project.save()
    make_comparison(project=project, priority=5)
    sent_back = make_comparison(project=project, extra_judgments=1, judgment_count=1)
    gold = make_comparison(project=project, gold_ordering=[[1]])
    assert comparison_lease(project=project, annotator=bob).comparison == gold
    Project.objects.filter(pk=project.pk).update(gold_rate=0.0)
    project.refresh_from_db()
    assert comparison_lease(project=project, annotator=charlie).comparison == sent_back
