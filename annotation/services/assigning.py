"""Handing out comparisons to annotators: leases with overlap, expiry, skips, gold items and priority.

The rules, in one place:
- an annotator holds at most one active lease per project and gets the same one back on every
  request until it is submitted, skipped or expires (reloading the page never takes a second item);
- a comparison is taken by its judgments plus its active, unexpired leases, and is handed out while
  that is below project.overlap (plus the comparison's extra_judgments, which a reviewer's send
  back raises), never to an annotator who had it before (whatever became of it);
- an expired lease stops counting at once (the comparison returns to the pool) and its row is
  marked expired when next seen;
- gold items (Comparison.gold_ordering set) are mixed in at project.gold_rate, look like any other
  item and are not bounded by overlap (each annotator may be checked on each once); they are only
  served while regular work remains, so the queue ends when the regular work does;
- comparisons a reviewer sent back for more judgments come first (they are few, and the review
  queue waits for them); then higher priority first, then the comparisons with the fewest
  judgments, then the oldest;
- the left/right (or list) order is shuffled per assignment with the system's random source.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from annotation import selectors
from annotation.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from annotation.models import Assignment, Comparison, ComparisonCandidate, Project

_random = random.SystemRandom()

SKIP_REASON_MAX = 255


def comparison_lease(
    *, project: Project, annotator: AbstractBaseUser, now: datetime | None = None
) -> Assignment | None:
    """The annotator's lease on an item of the project, or None when nothing is left for them.

    Returns the current active lease when there is one, else claims a new comparison.
    """
    now = now or timezone.now()
    # In its own short transaction: the claim below may wait for a comparison lock, and must not
    # hold assignment locks meanwhile that a submission holding that comparison waits for.
    assignments_expire(project=project, now=now)
    with transaction.atomic():
        # One claim at a time per annotator (a double click on "next", two tabs): without this lock
        # two concurrent requests could each see no active lease and each take a new item.
        get_user_model().objects.select_for_update().filter(pk=annotator.pk).values_list("pk").first()
        current = selectors.assignment_current(project=project, annotator=annotator, now=now)
        if current is not None:
            return current
        comparison_id = _comparison_claim(project=project, annotator=annotator, now=now)
        if comparison_id is None:
            return None
        return _assignment_create(project=project, annotator=annotator, comparison_id=comparison_id, now=now)


def _comparison_claim(*, project: Project, annotator: AbstractBaseUser, now: datetime) -> int | None:
    regular = selectors.comparison_pool(project=project, annotator=annotator, now=now, gold=False)
    if project.gold_rate > 0 and _random.random() < project.gold_rate and regular.exists():
        gold = selectors.comparison_pool(project=project, annotator=annotator, now=now, gold=True)
        comparison_id = _first_locked(gold)
        if comparison_id is not None:
            return comparison_id
    # One cheap look on the partial index first: most projects have no sent-back comparison still
    # short of judgments (extra_judgments stays set once they are in), and trying an empty pool
    # costs a savepoint and two selects.
    short = Comparison.objects.filter(
        project=project, extra_judgments__gt=0, judgment_count__lt=project.overlap + F("extra_judgments")
    )
    if short.exists():
        sent_back = selectors.comparison_pool(
            project=project, annotator=annotator, now=now, gold=False, sent_back=True
        )
        comparison_id = _first_locked(sent_back)
        if comparison_id is not None:
            return comparison_id
    return _first_locked(regular)


def _first_locked(pool: QuerySet[Comparison]) -> int | None:
    """Lock the first comparison of the pool that still has room, and return its id.

    Must run inside a transaction; the row lock is held until it ends.
    """
    tried: list[int] = []
    while True:
        # Each try runs in a savepoint: rolling it back releases the lock on a row found full, so a
        # claimer never waits for one row while holding another (two claimers doing that in
        # opposite order would deadlock).
        savepoint = transaction.savepoint()
        comparison_id = _lock_next(pool.exclude(pk__in=tried))
        if comparison_id is None:
            transaction.savepoint_commit(savepoint)
            return None
        # We hold the row lock now, so every transaction that leased or judged this comparison has
        # committed, and a new statement sees its rows (READ COMMITTED takes a snapshot per
        # statement). The pool query above may have run on an older snapshot: check again.
        if pool.filter(pk=comparison_id).exists():
            transaction.savepoint_commit(savepoint)
            return comparison_id
        transaction.savepoint_rollback(savepoint)
        tried.append(comparison_id)


def _lock_next(candidates: QuerySet[Comparison]) -> int | None:
    # SKIP LOCKED: concurrent annotators each lock a different row instead of queueing behind the
    # first one, so "next item" stays fast under load (a no-op on SQLite, which serialises writers
    # with BEGIN IMMEDIATE anyway).
    comparison_id = candidates.select_for_update(skip_locked=True).values_list("pk", flat=True).first()
    if comparison_id is not None:
        return comparison_id
    # Every eligible row may be locked by other claimers at this instant; SKIP LOCKED would then
    # report an empty queue that is not empty. Wait for the first such row instead.
    comparison_id = candidates.values_list("pk", flat=True).first()
    if comparison_id is not None:
        Comparison.objects.select_for_update().filter(pk=comparison_id).values_list("pk").first()
    return comparison_id


def _assignment_create(
    *, project: Project, annotator: AbstractBaseUser, comparison_id: int, now: datetime
) -> Assignment:
    order = list(
        ComparisonCandidate.objects.filter(comparison_id=comparison_id)
        .order_by("position")
        .values_list("candidate_id", flat=True)
    )
    _random.shuffle(order)
    return Assignment.objects.create(
        comparison_id=comparison_id,
        annotator=annotator,
        presented_order=order,
        leased_at=now,
        expires_at=now + timedelta(minutes=project.lease_minutes),
    )


def assignments_expire(*, project: Project, now: datetime | None = None) -> int:
    """Mark the project's leases that ran out as expired; returns how many were marked.

    Leases stop counting when their time is up whether or not this ran; this keeps the rows
    truthful. Rows locked by a submission in progress are left for the next sweep.
    """
    now = now or timezone.now()
    stale = Assignment.objects.filter(
        comparison__project=project, status=Assignment.Status.ACTIVE, expires_at__lte=now
    )
    # Every lease request sweeps: the common case, nothing ran out, costs one query and no transaction.
    if not stale.exists():
        return 0
    with transaction.atomic():
        # Lock in id order and skip locked rows, so concurrent sweeps never deadlock or wait.
        locked = list(
            stale.order_by("pk")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)
        )
        if not locked:
            return 0
        return Assignment.objects.filter(pk__in=locked).update(
            status=Assignment.Status.EXPIRED, finished_at=now
        )


def assignment_lock_for(
    *, project: Project, annotator: AbstractBaseUser, assignment_id: int, now: datetime
) -> Assignment:
    """The annotator's active lease with this id, locked, for a submission or a skip.

    Must run inside a transaction. Raises NotFound for another project's lease, NotAllowed for
    another annotator's, Conflict when it is no longer active or its time ran out.
    """
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("comparison")
        .filter(pk=assignment_id, comparison__project=project)
        .first()
    )
    if assignment is None:
        raise NotFound("This item is not part of this project.")
    if assignment.annotator_id != annotator.pk:
        raise NotAllowed("This item was given to another annotator.")
    expired = assignment.status == Assignment.Status.ACTIVE and assignment.expires_at <= now
    if expired or assignment.status == Assignment.Status.EXPIRED:
        raise Conflict(
            "Your time on this item ran out and it went back to the pool, so this answer was not "
            "recorded. Here is the next item."
        )
    if assignment.status == Assignment.Status.SKIPPED:
        raise Conflict("You skipped this item, so this answer was not recorded.")
    if assignment.status == Assignment.Status.SUBMITTED:
        raise Conflict("You already submitted an answer for this item.")
    return assignment


def assignment_skip(
    *, project: Project, annotator: AbstractBaseUser, assignment_id: int, reason: str
) -> Assignment:
    """Give the lease back with a reason; the comparison goes to other annotators, never back to this one.

    Skipping an item already skipped returns it unchanged (a retried request).
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "Say why you skip this item.", details=[{"field": "reason", "reason": "required"}]
        )
    if len(reason) > SKIP_REASON_MAX:
        raise ValidationFailed(
            "The reason is too long.", details=[{"field": "reason", "reason": f"at most {SKIP_REASON_MAX}"}]
        )
    now = timezone.now()
    with transaction.atomic():
        already = Assignment.objects.filter(
            pk=assignment_id,
            annotator=annotator,
            comparison__project=project,
            status=Assignment.Status.SKIPPED,
        ).first()
        if already is not None:
            return already
        assignment = assignment_lock_for(
            project=project, annotator=annotator, assignment_id=assignment_id, now=now
        )
        assignment.status = Assignment.Status.SKIPPED
        assignment.skip_reason = reason
        assignment.finished_at = now
        assignment.save(update_fields=["status", "skip_reason", "finished_at"])
        return assignment
