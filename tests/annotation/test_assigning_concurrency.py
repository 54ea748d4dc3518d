"""Parallel annotators on PostgreSQL: overlap holds, nobody judges twice, nothing is lost."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.conf import settings
from django.db import connection

from annotation.models import Assignment, Comparison, Judgment, Project
from annotation.services.assigning import assignment_skip, comparison_lease
from annotation.services.judging import judgment_submit
from tests.factories import MembershipFactory, ProjectFactory, UserFactory, make_comparison

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
            token = f"t-{lease.pk}-{user.pk}"
            judgment = judgment_submit(
                project=project,
                annotator=user,
                assignment_id=lease.pk,
                submission_token=token,
                ordering=[[first], rest],
            )
            # A retried request (lost response) must not add a second judgment.
            judgment_submit(
                project=project,
                annotator=user,
                assignment_id=lease.pk,
                submission_token=token,
                ordering=[[first], rest],
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
