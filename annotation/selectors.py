"""Read queries used by pages and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotation.models import Assignment, Comparison, ComparisonCandidate, Demonstration, Judgment, Project


def project_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    """Projects the user belongs to; superusers see every project."""
    projects = Project.objects.order_by("name")
    if user.is_superuser:
        return projects
    return projects.filter(memberships__user=user).distinct()


def comparison_pool(
    *,
    project: Project,
    annotator: AbstractBaseUser,
    now: datetime,
    gold: bool,
    sent_back: bool | None = False,
) -> QuerySet[Comparison]:
    """Comparisons this annotator could be handed now, best first: regular ones with room, gold
    ones, (sent_back) the ones a reviewer sent back for more judgments, or (sent_back None, for
    counting) regular and sent-back ones together.

    Room means judgments plus active unexpired leases below project.overlap, or below overlap plus
    extra_judgments for sent-back comparisons. Written with correlated subqueries, not GROUP BY, so
    that callers can lock rows with FOR UPDATE.
    """
    seen = Assignment.objects.filter(comparison=OuterRef("pk"), annotator=annotator)
    judged = Judgment.objects.filter(comparison=OuterRef("pk"), annotator=annotator)
    pool = (
        Comparison.objects.filter(project=project, gold_ordering__isnull=not gold)
        .exclude(Exists(seen))
        .exclude(Exists(judged))
        .order_by("-priority", "judgment_count", "id")
    )
    if gold:
        return pool
    leases = (
        Assignment.objects.filter(
            comparison=OuterRef("pk"), status=Assignment.Status.ACTIVE, expires_at__gt=now
        )
        .order_by()
        .values("comparison")
        .annotate(n=Count("pk"))
        .values("n")
    )
    taken = F("judgment_count") + Coalesce(Subquery(leases, output_field=IntegerField()), Value(0))
    if sent_back is None:
        # extra_judgments is 0 on regular rows, so one bound covers both pools; the cheap column
        # test first spares the lease subquery on full rows.
        return (
            pool.filter(Q(judgment_count__lt=project.overlap) | Q(extra_judgments__gt=0))
            .alias(taken=taken)
            .filter(taken__lt=project.overlap + F("extra_judgments"))
        )
    if sent_back:
        # Few rows, found on the partial index comparison_sent_back.
        wanted = project.overlap + F("extra_judgments")
        return pool.filter(extra_judgments__gt=0).alias(taken=taken).filter(taken__lt=wanted)
    # The regular pool leaves sent-back rows to the query above, so that its room test stays a
    # constant bound the comparison_pool_order index applies (judgment_count < overlap).
    return (
        pool.filter(judgment_count__lt=project.overlap, extra_judgments=0)
        .alias(taken=taken)
        .filter(taken__lt=project.overlap)
    )


def assignment_current(*, project: Project, annotator: AbstractBaseUser, now: datetime) -> Assignment | None:
    """The annotator's active, unexpired lease in the project, if any."""
    return (
        Assignment.objects.filter(
            annotator=annotator,
            comparison__project=project,
            status=Assignment.Status.ACTIVE,
            expires_at__gt=now,
        )
        .order_by("leased_at")
        .first()
    )


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


def queue_counts(
    *, project: Project, annotator: AbstractBaseUser, now: datetime | None = None, holding: bool | None = None
) -> QueueCounts:
    """The annotator's own progress in the project: judged today, judged in all, and still to do.

    `remaining` counts the regular items this annotator could still be handed plus the one they
    hold, up to REMAINING_COUNT_MAX; it is an estimate under concurrency, since others take items
    too. Pass `holding` when the caller knows whether the annotator holds a lease (it saves a query).
    """
    now = now or timezone.now()
    start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    done = Judgment.objects.filter(annotator=annotator, comparison__project=project).aggregate(
        total=Count("pk"), today=Count("pk", filter=Q(created_at__gte=start_of_day))
    )
    if holding is None:
        holding = assignment_current(project=project, annotator=annotator, now=now) is not None
    pool = comparison_pool(project=project, annotator=annotator, now=now, gold=False, sent_back=None)
    open_items = pool[:REMAINING_COUNT_MAX].count()
    return QueueCounts(
        done_today=done["today"],
        done_total=done["total"],
        remaining=min(open_items + int(holding), REMAINING_COUNT_MAX),
        remaining_capped=open_items + int(holding) >= REMAINING_COUNT_MAX,
    )


def demonstration_for(*, judgment: Judgment) -> Demonstration | None:
    """The demonstration the judgment's annotator wrote on its comparison, if any."""
    return Demonstration.objects.filter(
        comparison_id=judgment.comparison_id, annotator_id=judgment.annotator_id
    ).first()


def assignment_item(*, assignment_id: int) -> Assignment:
    """An assignment with everything the annotate page shows: project, prompt and candidates."""
    return (
        Assignment.objects.select_related("comparison__project", "comparison__prompt")
        .prefetch_related(
            Prefetch("comparison__slots", queryset=ComparisonCandidate.objects.select_related("candidate"))
        )
        .get(pk=assignment_id)
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
