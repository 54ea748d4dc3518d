"""Handing out comparisons to annotators: leases with overlap, expiry, skips, gold items and priority.

The rules, in one place:
- an annotator holds at most one active lease per project and gets the same one back on every
  request until it is submitted, skipped or expires (reloading the page never takes a second item);
- a comparison is taken by its judgments plus its active, unexpired leases, and is handed out while
  that is below project.overlap (plus the comparison's extra_judgments, which a reviewer's send
  back raises), never to an annotator who had it before (whatever became of it);
- an expired lease stops counting at once (the comparison returns to the pool); celery beat marks
  its row expired within a minute (assignments_expire), off the hot path of "next item";
- gold items (Comparison.gold_ordering set) are mixed in at project.gold_rate, look like any other
  item and are not bounded by overlap (each annotator may be checked on each once); they are only
  served while regular work remains, so the queue ends when the regular work does;
- comparisons a reviewer sent back for more judgments come first (they are few, and the review
  queue waits for them); then higher priority first, then the comparisons with the fewest
  judgments, then the oldest;
- the left/right (or list) order is shuffled per assignment with the system's random source.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from annotation.models import Assignment, Comparison, ComparisonCandidate, Project
from annotation.selectors import annotating as selectors
from rankwise import rows
from rankwise.errors import Conflict, NotAllowed, NotFound, ValidationFailed

_random = random.SystemRandom()
_USERS = get_user_model()._meta.db_table
_ASSIGNMENTS = Assignment._meta.db_table
_COMPARISONS = Comparison._meta.db_table
_SLOTS = ComparisonCandidate._meta.db_table
_ACTIVE = f"'{Assignment.Status.ACTIVE.value}'"

SKIP_REASON_MAX = 255


def comparison_lease(
    *, project: Project, annotator: AbstractBaseUser, now: datetime | None = None
) -> Assignment | None:
    """The annotator's lease on an item of the project, or None when nothing is left for them.

    Returns the current active lease when there is one, else claims a new comparison.
    """
    now = now or timezone.now()
    gold = project.gold_rate > 0 and _random.random() < project.gold_rate
    claim = _Claim(project=project, annotator=annotator, now=now)
    try:
        with transaction.atomic():
            claim.annotator_lock()
            if not gold:
                # The common case, one statement to lock and one to insert: no lease held, no
                # sent-back comparison this annotator could be handed, and a free regular row.
                lease = claim.take(claim.first_free(selectors.POOL_REGULAR, only_if_idle=True))
                if lease is not None:
                    return lease
            return claim.careful(gold=gold)
    except _RowFilled:
        # The row locked above filled up before we held it, and a lock cannot be given back
        # without the savepoint that the common case saves: start again, one savepoint per try.
        with transaction.atomic():
            claim.annotator_lock()
            return claim.careful(gold=gold)


class _RowFilled(Exception):
    pass


class _Claim:
    """The statements of one claim. Every method must run inside a transaction."""

    def __init__(self, *, project: Project, annotator: AbstractBaseUser, now: datetime) -> None:
        self.project = project
        self.annotator = annotator
        self.now = now
        self.params = selectors.pool_params(project=project, annotator=annotator, now=now)
        features = connection.features
        self.for_update = " FOR UPDATE" if features.has_select_for_update else ""
        # SKIP LOCKED: concurrent annotators each lock a different row instead of queueing behind
        # the first one, so "next item" stays fast under load (SQLite has no row locks and
        # serialises writers with BEGIN IMMEDIATE anyway).
        self.skip_locked = " FOR UPDATE SKIP LOCKED" if features.has_select_for_update_skip_locked else ""

    def annotator_lock(self) -> None:
        # One claim at a time per annotator (a double click on "next", two tabs): without this lock
        # two concurrent requests could each see no active lease and each take a new item. Every
        # statement after it sees the leases such a request committed.
        if self.for_update:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT id FROM {_USERS} WHERE id = %s{self.for_update}", [self.annotator.pk])

    def careful(self, *, gold: bool) -> Assignment | None:
        current = selectors.assignment_current(project=self.project, annotator=self.annotator, now=self.now)
        if current is not None:
            return current
        if gold and self._holds(f"EXISTS (SELECT 1 FROM {_COMPARISONS} c WHERE {selectors.POOL_REGULAR})"):
            lease = self._first_taken(selectors.POOL_GOLD)
            if lease is not None:
                return lease
        if self._holds(selectors.SENT_BACK_SHORT):
            lease = self._first_taken(selectors.POOL_SENT_BACK)
            if lease is not None:
                return lease
        return self._first_taken(selectors.POOL_REGULAR)

    def first_free(
        self, pool: str, *, only_if_idle: bool = False, tried: Sequence[int] = ()
    ) -> tuple[int, list[int]] | None:
        """Lock the first unlocked row of the pool: its id and candidate ids in slot order.

        only_if_idle: none when the annotator holds a lease or could be handed a sent-back
        comparison (then the careful path decides).
        """
        where = pool
        if only_if_idle:
            where += (
                f" AND NOT EXISTS ({selectors.CURRENT_LEASE})"
                f" AND NOT EXISTS (SELECT 1 FROM {_COMPARISONS} c WHERE {selectors.POOL_SENT_BACK})"
            )
        if tried:
            where += f" AND c.id NOT IN ({', '.join(str(int(i)) for i in tried)})"
        return self._locked(
            f"SELECT c.id FROM {_COMPARISONS} c WHERE {where}"
            f" ORDER BY {selectors.POOL_ORDER} LIMIT 1{self.skip_locked}"
        )

    def _locked(self, pick: str, params: dict[str, object] | None = None) -> tuple[int, list[int]] | None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT picked.id, s.candidate_id FROM ({pick}) picked"
                f" JOIN {_SLOTS} s ON s.comparison_id = picked.id ORDER BY s.position",
                params or self.params,
            )
            rows = cursor.fetchall()
        if not rows:
            return None
        return rows[0][0], [candidate_id for _, candidate_id in rows]

    def take(
        self, locked: tuple[int, list[int]] | None, pool: str = selectors.POOL_REGULAR
    ) -> Assignment | None:
        """A new lease on the locked comparison, if it is still in the pool; else raises _RowFilled.

        We hold the row lock now, so every transaction that leased or judged this comparison has
        committed, and a new statement sees its rows (READ COMMITTED takes a snapshot per
        statement). The statement that locked it may have run on an older snapshot: the insert
        checks the pool again.
        """
        if locked is None:
            return None
        comparison_id, order = locked
        _random.shuffle(order)
        expires_at = self.now + timedelta(minutes=self.project.lease_minutes)
        adapt = connection.ops.adapt_datetimefield_value
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {_ASSIGNMENTS} (comparison_id, annotator_id, status, presented_order,"
                " skip_reason, leased_at, expires_at)"
                f" SELECT %(comparison)s, %(annotator)s, {_ACTIVE}, %(order)s, '', %(now)s, %(expires_at)s"
                f" WHERE EXISTS (SELECT 1 FROM {_COMPARISONS} c WHERE c.id = %(comparison)s AND {pool})"
                " RETURNING id",
                {
                    **self.params,
                    "comparison": comparison_id,
                    "order": json.dumps(order),
                    "expires_at": adapt(expires_at),
                },
            )
            row = cursor.fetchone()
        if row is None:
            raise _RowFilled
        values = {
            "id": row[0],
            "comparison_id": comparison_id,
            "annotator_id": self.annotator.pk,
            "status": Assignment.Status.ACTIVE,
            "presented_order": order,
            "skip_reason": "",
            "leased_at": self.now,
            "expires_at": expires_at,
            "finished_at": None,
        }
        return Assignment.from_db(connection.alias, list(values), list(values.values()))

    def _first_taken(self, pool: str) -> Assignment | None:
        """A lease on the first comparison of the pool that still has room."""
        tried: list[int] = []
        while True:
            # Each try runs in a savepoint: rolling it back releases the lock on a row found full, so a
            # claimer never waits for one row while holding another (two claimers doing that in
            # opposite order would deadlock).
            savepoint = transaction.savepoint()
            locked = self.first_free(pool, tried=tried) or self._first_waited(pool, tried)
            try:
                lease = self.take(locked, pool)
            except _RowFilled:
                transaction.savepoint_rollback(savepoint)
                tried.append(locked[0])
                continue
            transaction.savepoint_commit(savepoint)
            return lease

    def _first_waited(self, pool: str, tried: Sequence[int]) -> tuple[int, list[int]] | None:
        # Every eligible row may be locked by other claimers at this instant; SKIP LOCKED would then
        # report an empty queue that is not empty. Wait for the first such row instead.
        if not self.skip_locked:
            return None
        where = pool
        if tried:
            where += f" AND c.id NOT IN ({', '.join(str(int(i)) for i in tried)})"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT c.id FROM {_COMPARISONS} c WHERE {where} ORDER BY {selectors.POOL_ORDER} LIMIT 1",
                self.params,
            )
            row = cursor.fetchone()
        if row is None:
            return None
        return self._locked(
            f"SELECT id FROM {_COMPARISONS} WHERE id = %(comparison)s{self.for_update}",
            {"comparison": row[0]},
        )

    def _holds(self, condition: str) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {condition}", self.params)
            return bool(cursor.fetchone()[0])


def assignments_expire(*, now: datetime | None = None) -> int:
    """Mark every lease that ran out as expired; returns how many were marked.

    Leases stop counting when their time is up whether or not this ran; this keeps the rows
    truthful, and celery beat runs it every minute (annotation.tasks.leases_expire). Rows locked by
    a submission or skip in progress are left for the next sweep. One statement, on the
    (status, expires_at) index.
    """
    now = now or timezone.now()
    # Lock in id order and skip locked rows, so concurrent sweeps never deadlock or wait.
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_ASSIGNMENTS} SET status = %(expired)s, finished_at = %(now)s WHERE id IN ("
            f"SELECT id FROM {_ASSIGNMENTS} WHERE status = {_ACTIVE} AND expires_at <= %(now)s"
            f" ORDER BY id{skip_locked})",
            {"expired": Assignment.Status.EXPIRED.value, "now": adapt(now)},
        )
        return cursor.rowcount


def assignment_lock_for(
    *, project: Project, annotator: AbstractBaseUser, assignment_id: int, now: datetime
) -> Assignment:
    """The annotator's active lease with this id, locked, for a submission or a skip.

    Must run inside a transaction. Raises NotFound for another project's lease, and what
    assignment_check raises.
    """
    lock = " FOR UPDATE OF a" if connection.features.has_select_for_update_of else ""
    found = rows.instances(
        Assignment,
        f"SELECT {rows.columns(Assignment, 'a')} FROM {_ASSIGNMENTS} a"
        f" JOIN {_COMPARISONS} c ON c.id = a.comparison_id WHERE a.id = %s AND c.project_id = %s{lock}",
        [assignment_id, project.pk],
    )
    if not found:
        raise NotFound("This item is not part of this project.")
    [(assignment, _)] = found
    assignment_check(assignment=assignment, annotator=annotator, now=now)
    return assignment


def assignment_check(*, assignment: Assignment, annotator: AbstractBaseUser, now: datetime) -> None:
    """Raise NotAllowed for another annotator's lease, Conflict when it is no longer active or its
    time ran out at `now` (read while the lease is locked)."""
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
