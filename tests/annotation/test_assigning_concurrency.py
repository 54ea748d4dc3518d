"""Parallel annotators on PostgreSQL: overlap holds, nobody judges twice, nothing is lost."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.conf import settings
from django.db import connection, transaction

from annotation.models import Assignment, Comparison, Judgment, Project
from annotation.services.assigning import assignment_skip, comparison_lease
from annotation.services.judging import judgment_submit
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_answer, make_comparison

ANNOTATORS = 24
COMPARISONS = 60
OVERLAP = 3


def _annotate_until_empty(project: Project, user, done: list[int], errors: list[BaseException]) -> None:
    try:
        while True:
            lease = comparison_lease(project=project, annotator=user)
            if lease is None:
                return
            if lease.comparison_id % 7 == user.pk % 7:
                # Some annotators skip some items: those must still reach `overlap` through others.
                assignment_skip(project=project, annotator=user, assignment_id=lease.pk, reason="not for me")
                continue
            first, *rest = lease.presented_order
            token = f"token-{lease.pk}-{user.pk}"
            judgment = judgment_submit(
                project=project,
                annotator=user,
                assignment_id=lease.pk,
                submission_token=token,
                answer=make_answer(project=project, ordering=[[first], rest]),
            )
            # A retried request (lost response) must not add a second judgment.
            judgment_submit(
                project=project,
                annotator=user,
                assignment_id=lease.pk,
                submission_token=token,
                answer=make_answer(project=project, ordering=[[first], rest]),
            )
            done.append(judgment.pk)
    except BaseException as exc:  # noqa: BLE001 - reported by the main thread
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.integration
def test_parallel_annotators_fill_every_comparison_exactly_to_overlap(transactional_db: None) -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    project = ProjectFactory(overlap=OVERLAP)
    for _ in range(COMPARISONS):
        make_comparison(project=project)
    users = [UserFactory(password=None) for _ in range(ANNOTATORS)]
    for user in users:
        MembershipFactory(project=project, user=user)

    done: list[int] = []
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_annotate_until_empty, args=(project, user, done, errors)) for user in users
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    elapsed = time.perf_counter() - started

    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
    per_comparison = Counter(Judgment.objects.values_list("comparison_id", flat=True))
    assert len(per_comparison) == COMPARISONS
    assert set(per_comparison.values()) == {OVERLAP}
    assert list(Comparison.objects.values_list("judgment_count", flat=True).distinct()) == [OVERLAP]
    pairs = list(Judgment.objects.values_list("comparison_id", "annotator_id"))
    assert len(pairs) == len(set(pairs)) == len(done) == COMPARISONS * OVERLAP
    assert not Assignment.objects.filter(status=Assignment.Status.ACTIVE).exists()
    skipped = Assignment.objects.filter(status=Assignment.Status.SKIPPED)
    assert skipped.exists()
    assert not Judgment.objects.filter(assignment__in=skipped).exists()
    print(
        f"\n{ANNOTATORS} annotators, {COMPARISONS} comparisons x overlap {OVERLAP}: "
        f"{len(done)} lease+submit cycles ({skipped.count()} skips) in {elapsed:.2f} s = "
        f"{len(done) / elapsed:.0f} items/s"
    )


def _claim_at_once(project: Project, users: list) -> list:
    """comparison_lease for each user, all started together on their own connections."""
    barrier = threading.Barrier(len(users))
    leases: list = [None] * len(users)
    errors: list[BaseException] = []

    def claim(i: int) -> None:
        try:
            barrier.wait()
            leases[i] = comparison_lease(project=project, annotator=users[i])
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(users))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return leases


@pytest.mark.integration
@pytest.mark.parametrize("overlap", [1, 2])
def test_concurrent_annotators_never_share_the_last_slots(transactional_db: None, overlap: int) -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    project = ProjectFactory(overlap=overlap)
    last = make_comparison(project=project)
    users = [UserFactory(password=None) for _ in range(8)]
    for user in users:
        MembershipFactory(project=project, user=user)
    for _ in range(3):
        leases = _claim_at_once(project, users)
        assert sum(lease is not None for lease in leases) == overlap
        assert Assignment.objects.filter(comparison=last).count() == overlap
        Assignment.objects.all().delete()


@pytest.mark.integration
def test_one_annotator_asking_twice_at_once_gets_one_lease(transactional_db: None) -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    project = ProjectFactory(overlap=1)
    for _ in range(4):
        make_comparison(project=project)
    user = UserFactory(password=None)
    MembershipFactory(project=project, user=user)
    leases = _claim_at_once(project, [user] * 4)
    assert len({lease.pk for lease in leases}) == 1
    assert Assignment.objects.count() == 1


@pytest.mark.integration
def test_a_claim_waits_for_a_locked_last_row_instead_of_reporting_an_empty_queue(
    transactional_db: None,
) -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    project = ProjectFactory(overlap=1)
    last = make_comparison(project=project)
    user = UserFactory(password=None)
    MembershipFactory(project=project, user=user)
    locked = threading.Event()
    release = threading.Event()

    def hold_the_row() -> None:
        try:
            with transaction.atomic():
                Comparison.objects.select_for_update().filter(pk=last.pk).values_list("pk").first()
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    assert locked.wait(timeout=30)
    claims: list = []
    claimer = threading.Thread(target=lambda: claims.extend(_claim_at_once(project, [user])))
    claimer.start()
    # Without waiting for the lock, the claim would answer "nothing left" before the row is free.
    time.sleep(0.5)
    release.set()
    holder.join(timeout=30)
    claimer.join(timeout=30)
    assert [lease.comparison_id for lease in claims] == [last.pk]
