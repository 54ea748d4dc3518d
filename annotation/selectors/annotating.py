"""Read queries used by pages and the API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from annotation.models import (
    Assignment,
    Candidate,
    Comparison,
    ComparisonCandidate,
    Demonstration,
    Judgment,
    JudgmentTally,
    Project,
    Prompt,
)
from rankwise import rows


def project_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """Projects the user belongs to; superusers see every project."""
    projects = Project.objects.order_by("name")
    if user.is_superuser:
        return projects
    return projects.filter(memberships__user=user).distinct()


# The pools, written as SQL conditions on a comparison `c`: the claim and the counts run on every
# "next item", and building these with the ORM cost several times more CPU than running them. Each
# takes the parameters project, annotator, overlap and now (pool_params). Correlated subqueries, not
# GROUP BY, so that the claim can lock the rows it reads with FOR UPDATE.
_A = Assignment._meta.db_table
_C = Comparison._meta.db_table
_J = Judgment._meta.db_table
_ACTIVE = f"'{Assignment.Status.ACTIVE.value}'"
# Never handed to this annotator before, whatever became of it, and not judged by them. On
# PostgreSQL, OFFSET 0 keeps each NOT EXISTS a probe of one (comparison, annotator) index entry per
# pool row: as an anti-join, which PostgreSQL would otherwise make of it, a prepared statement's
# generic plan (which knows only the average annotator) may read the annotator's whole history for
# every row instead: 7.6 ms on average for the counts of an annotator with 2,957 judgments,
# against 0.9 ms (bench/annotation_load.py). SQLite has no generic plans and no OFFSET without LIMIT.
_PROBE = " OFFSET 0" if connection.vendor == "postgresql" else ""
_UNSEEN = (
    f"NOT EXISTS (SELECT 1 FROM {_A} s WHERE s.comparison_id = c.id AND s.annotator_id = %(annotator)s"
    f"{_PROBE}) AND NOT EXISTS (SELECT 1 FROM {_J} j WHERE j.comparison_id = c.id"
    f" AND j.annotator_id = %(annotator)s{_PROBE})"
)
# Judgments plus active, unexpired leases.
_TAKEN = (
    f"c.judgment_count + (SELECT COUNT(*) FROM {_A} l"
    f" WHERE l.comparison_id = c.id AND l.status = {_ACTIVE} AND l.expires_at > %(now)s)"
)


def _room_then_unseen(bound: str) -> str:
    """Room under `bound` and unseen by this annotator, the room tested first (CASE fixes the order).

    The rows a claim walks past at the front of the queue are mostly those other annotators hold
    leases on, which the room test alone rules out; as plain AND terms PostgreSQL orders the three
    probes by estimated cost and ran both history probes first, three probes per such row instead
    of one (bench/README.md, "the claim tests a row's room first").
    """
    return f"CASE WHEN {_TAKEN} < {bound} THEN {_UNSEEN} ELSE false END"


# Regular comparisons with room. Sent-back rows are left to POOL_SENT_BACK, so that the room test
# stays a constant bound the comparison_pool_order index applies (judgment_count < overlap).
POOL_REGULAR = (
    "c.project_id = %(project)s AND c.gold_ordering IS NULL AND c.extra_judgments = 0"
    f" AND c.judgment_count < %(overlap)s AND {_room_then_unseen('%(overlap)s')}"
)
# Comparisons a reviewer sent back for more judgments: few rows, found on the partial index
# comparison_sent_back.
POOL_SENT_BACK = (
    "c.project_id = %(project)s AND c.gold_ordering IS NULL AND c.extra_judgments > 0"
    f" AND {_room_then_unseen('%(overlap)s + c.extra_judgments')}"
)
# Gold items are not bounded by overlap: each annotator may be checked on each once.
POOL_GOLD = f"c.project_id = %(project)s AND c.gold_ordering IS NOT NULL AND {_UNSEEN}"
# Regular and sent-back together, for counting: extra_judgments is 0 on regular rows, so one bound
# covers both; the cheap column test first spares the lease subquery on full rows.
POOL_OPEN = (
    "c.project_id = %(project)s AND c.gold_ordering IS NULL"
    " AND (c.judgment_count < %(overlap)s OR c.extra_judgments > 0)"
    f" AND {_room_then_unseen('%(overlap)s + c.extra_judgments')}"
)
# Best first: higher priority, then the fewest judgments, then the oldest.
POOL_ORDER = "c.priority DESC, c.judgment_count, c.id"
# Whether some sent-back comparison is still short of judgments (extra_judgments stays set once
# they are in): one look on the partial index spares the claim an empty sent-back pool.
SENT_BACK_SHORT = (
    f"EXISTS (SELECT 1 FROM {_C} b WHERE b.project_id = %(project)s AND b.extra_judgments > 0"
    " AND b.judgment_count < %(overlap)s + b.extra_judgments)"
)
# The annotator's active, unexpired lease in the project.
_CURRENT = (
    f"SELECT a.id FROM {_A} a JOIN {_C} ac ON ac.id = a.comparison_id WHERE a.annotator_id = %(annotator)s"
    f" AND ac.project_id = %(project)s AND a.status = {_ACTIVE} AND a.expires_at > %(now)s"
)
CURRENT_LEASE = f"{_CURRENT} ORDER BY a.leased_at LIMIT 1"
HOLDS_LEASE = f"EXISTS ({_CURRENT})"


def pool_params(*, project: Project, annotator: AbstractBaseUser, now: datetime) -> dict[str, object]:
    """The parameters of the POOL_* conditions."""
    return {
        "project": project.pk,
        "annotator": annotator.pk,
        "overlap": project.overlap,
        "now": connection.ops.adapt_datetimefield_value(now),
    }


def assignment_current(*, project: Project, annotator: AbstractBaseUser, now: datetime) -> Assignment | None:
    """The annotator's active, unexpired lease in the project, if any."""
    params = pool_params(project=project, annotator=annotator, now=now)
    lease = f"SELECT {rows.columns(Assignment, 'l')} FROM {_A} l WHERE l.id = ({CURRENT_LEASE})"
    found = rows.instances(Assignment, lease, params)
    return found[0][0] if found else None


# Counting every item left means walking the whole pool: over a second per request with a million
# comparisons (and still 4 ms at 1,000). An annotator only needs to know that the queue is long, so
# the count stops here.
REMAINING_COUNT_MAX = 100


@dataclass(frozen=True)
class QueueCounts:
    done_today: int
    done_total: int
    remaining: int
    # True when the count stopped at REMAINING_COUNT_MAX: at least `remaining` are left.
    remaining_capped: bool = False


# While an annotator's queue is long, `remaining` says only "at least REMAINING_COUNT_MAX", and
# finding that out walks the pool: the costliest statement of a cycle. So a count that reached the
# cap is remembered this long, and meanwhile the counts read the done tallies alone.
REMAINING_CAPPED_SECONDS = 30


def _remaining_capped_key(project: Project, annotator: AbstractBaseUser) -> str:
    return f"remaining-capped:{project.pk}:{annotator.pk}"


def queue_counts(
    *, project: Project, annotator: AbstractBaseUser, now: datetime | None = None, fresh: bool = False
) -> QueueCounts:
    """The annotator's own progress in the project: judged today, judged in all, and still to do.

    `remaining` counts the regular items this annotator could still be handed plus the one they
    hold, up to REMAINING_COUNT_MAX; it is an estimate under concurrency, since others take items
    too. The done counts come from the annotator's JudgmentTally rows. One query.

    A count that reached the cap stands for REMAINING_CAPPED_SECONDS (in the cache): until then the
    query reads only the tallies. `fresh` counts anyway; the annotate door asks for it when it had
    no item to hand out, so that an empty queue never shows as a long one.
    """
    now = now or timezone.now()
    params = {
        **pool_params(project=project, annotator=annotator, now=now),
        "today": connection.ops.adapt_datefield_value(timezone.localdate(now)),
    }
    done = (
        "SELECT COALESCE(SUM(t.judgments), 0) AS total,"
        " COALESCE(SUM(CASE WHEN t.day = %(today)s THEN t.judgments END), 0) AS today"
        f" FROM {JudgmentTally._meta.db_table} t"
        " WHERE t.project_id = %(project)s AND t.annotator_id = %(annotator)s"
    )
    capped_key = _remaining_capped_key(project, annotator)
    if not fresh and cache.get(capped_key):
        with connection.cursor() as cursor:
            cursor.execute(done, {name: params[name] for name in ("project", "annotator", "today")})
            done_total, done_today = cursor.fetchone()
        return QueueCounts(done_today, done_total, remaining=REMAINING_COUNT_MAX, remaining_capped=True)
    counts = (
        "SELECT d.total, d.today,"
        f" (SELECT COUNT(*) FROM (SELECT c.id FROM {_C} c WHERE {POOL_OPEN}"
        f" ORDER BY {POOL_ORDER} LIMIT {int(REMAINING_COUNT_MAX)}) o), {HOLDS_LEASE}"
        f" FROM ({done}) d"
    )
    # The overlap and the cap go into the text, not in parameters: without them PostgreSQL's
    # generic plan of the prepared statement looks costlier than it is, and it would plan the
    # count anew on every request (about half of its cost).
    counts = counts.replace("%(overlap)s", str(int(project.overlap)))
    with connection.cursor() as cursor:
        cursor.execute(counts, params)
        done_total, done_today, open_items, holding = cursor.fetchone()
    left = open_items + int(bool(holding))
    if left >= REMAINING_COUNT_MAX:
        cache.set(capped_key, True, REMAINING_CAPPED_SECONDS)
    elif fresh:
        cache.delete(capped_key)
    return QueueCounts(
        done_today=done_today,
        done_total=done_total,
        remaining=min(left, REMAINING_COUNT_MAX),
        remaining_capped=left >= REMAINING_COUNT_MAX,
    )


def demonstration_for(*, judgment: Judgment) -> Demonstration | None:
    """The demonstration the judgment's annotator wrote on its comparison, if any."""
    return Demonstration.objects.filter(
        comparison_id=judgment.comparison_id, annotator_id=judgment.annotator_id
    ).first()


@dataclass(frozen=True)
class ItemCandidate:
    text: str
    model_name: str
    # Stored HTML (annotation.services.prerendering), None until it is rendered.
    html: str | None


@dataclass(frozen=True)
class ComparisonItem:
    """What the annotate page shows of a comparison, besides the project's settings."""

    arena: bool
    messages: list[dict]
    # By candidate id, in slot order.
    candidates: dict[int, ItemCandidate]
    # Stored HTML of each message, None until it is rendered.
    messages_html: list[str] | None


def comparison_item(*, comparison_id: int) -> ComparisonItem:
    """The comparison's prompt and candidates, with their stored HTML, in one query (it runs on
    every "next item")."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.arena, p.messages, p.messages_html, k.id, k.text, k.model_name, k.html"
            f" FROM {_C} c JOIN {Prompt._meta.db_table} p ON p.id = c.prompt_id"
            f" JOIN {ComparisonCandidate._meta.db_table} s ON s.comparison_id = c.id"
            f" JOIN {Candidate._meta.db_table} k ON k.id = s.candidate_id"
            " WHERE c.id = %s ORDER BY s.position",
            [comparison_id],
        )
        rows = cursor.fetchall()
    arena, messages, messages_html = rows[0][:3]
    return ComparisonItem(
        arena=bool(arena),
        messages=json.loads(messages),
        messages_html=None if messages_html is None else json.loads(messages_html),
        candidates={
            cid: ItemCandidate(text=text, model_name=model, html=html) for *_, cid, text, model, html in rows
        },
    )


def judgment_list_for_annotator(*, project: Project, annotator: AbstractBaseUser) -> QuerySet[Judgment]:
    """The annotator's own judgments in the project, newest first, with their prompt."""
    return (
        Judgment.objects.filter(comparison__project=project, annotator=annotator)
        .select_related("comparison__prompt")
        .order_by("-created_at")
    )


def judgment_item(*, project: Project, judgment_id: int) -> Judgment | None:
    """A judgment of the project with what the annotate page needs to show it again."""
    return (
        Judgment.objects.filter(pk=judgment_id, comparison__project=project)
        .select_related("comparison__project", "comparison__prompt")
        .prefetch_related("comparison__slots__candidate")
        .first()
    )
