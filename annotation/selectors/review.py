"""Read queries behind the review queue: which comparisons need a reviewer, and everything a
reviewer sees of one (prompt, candidates with model names, every annotator's judgment, reviews).

Reviewers and admins only: this shows other annotators' labels, which annotators never see.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import astuple, dataclass
from string import ascii_uppercase

from django.core.cache import cache
from django.db.models import Count, Max, Prefetch, Q

from annotation.models import Comparison, Judgment, Project, Review
from annotation.quality import agreement
from annotation.quality.annotators import annotator_scores
from annotation.quality.review import ReviewEntry, review_entries
from annotation.selectors.quality import project_thresholds, quality_inputs_get
from rankwise.errors import NotFound


@dataclass(frozen=True)
class ReviewQueue:
    entries: list[ReviewEntry]  # the comparisons that need review now, in queue order
    waiting: set[int]  # sent back and waiting for the judgments asked for
    settled: set[int]  # accepted or overridden
    # Every comparison with a reason for review, whatever its state.
    reasons: dict[int, ReviewEntry]


REASONS_CACHE_SECONDS = 300


def review_queue_get(*, project: Project, reason: str = "") -> ReviewQueue:
    """The project's review queue: comparisons with low agreement (below
    project.review_min_agreement), flagged by an annotator, or judged by an annotator flagged under
    the project's thresholds, less those accepted or overridden and those sent back whose extra
    judgments have not all come in. `reason` (a key of quality.review.REASONS) narrows it.

    Reads the reasons (review_reasons_get) and then two small queries: reviews, and the judgment
    counts of sent-back comparisons.
    """
    entries = review_reasons_get(project=project)
    settled: set[int] = set()
    sent_back: dict[int, tuple[int, int]] = {}
    for comparison_id, decision, judgment_count, extra in (
        Review.objects.filter(comparison__project=project)
        .order_by("id")
        .values_list("comparison_id", "decision", "judgment_count", "extra_judgments")
    ):
        if decision in Review.SETTLING:
            settled.add(comparison_id)
        else:
            sent_back[comparison_id] = (judgment_count, extra)  # the latest send back wins
    judged = dict(
        Judgment.objects.filter(comparison_id__in=list(sent_back))
        .values("comparison_id")
        .annotate(n=Count("id"))
        .values_list("comparison_id", "n")
    )
    waiting = {
        comparison_id
        for comparison_id, (judgment_count, extra) in sent_back.items()
        if comparison_id not in settled and judged.get(comparison_id, 0) < judgment_count + extra
    }
    open_entries = [
        e
        for e in entries
        if e.comparison_id not in settled
        and e.comparison_id not in waiting
        and (not reason or reason in e.reasons)
    ]
    return ReviewQueue(
        entries=open_entries,
        waiting=waiting,
        settled=settled,
        reasons={e.comparison_id: e for e in entries},
    )


def review_reasons_get(*, project: Project) -> list[ReviewEntry]:
    """Every comparison of the project with a reason for review, in queue order, reviewed or not.

    This reads every judgment (what the dashboard reads, plus judgment flags), so it is cached
    under a key that changes with the project's judgments (count, last id, last edit), its
    comparisons (count, gold ones) and its thresholds: the review page reloads after each decision,
    and a decision changes none of these. REASONS_CACHE_SECONDS bounds how long a change the key
    cannot see (a gold answer set on an existing comparison) takes to show.
    """
    version = Comparison.objects.filter(project=project).aggregate(
        comparison_count=Count("id", distinct=True),
        gold_count=Count("id", distinct=True, filter=Q(gold_ordering__isnull=False)),
        judgment_total=Count("judgments"),
        last_judgment=Max("judgments__id"),
        last_edit=Max("judgments__updated_at"),
    )
    thresholds = (*astuple(project_thresholds(project=project)), project.review_min_agreement)
    key = "review-reasons:" + hashlib.sha256(repr((project.pk, version, thresholds)).encode()).hexdigest()
    entries = cache.get(key)
    if entries is None:
        entries = _review_reasons(project)
        cache.set(key, entries, REASONS_CACHE_SECONDS)
    return entries


def _review_reasons(project: Project) -> list[ReviewEntry]:
    inputs = quality_inputs_get(project=project)
    scores = annotator_scores(
        inputs.records,
        gold=inputs.gold,
        skips=inputs.skips,
        thresholds=project_thresholds(project=project),
    )
    flags: dict[int, list[str]] = defaultdict(list)
    flagged_judgments = Judgment.objects.filter(comparison__project=project).exclude(flags=[])
    for comparison_id, raised in flagged_judgments.values_list("comparison_id", "flags"):
        flags[comparison_id].extend(raised or [])
    return review_entries(
        inputs.records,
        flags=flags,
        flagged_annotators={s.annotator_id for s in scores if s.flags},
        min_agreement=project.review_min_agreement,
    )


def comparison_get(*, project: Project, comparison_id: int) -> Comparison:
    """The project's comparison with this id; NotFound for another project's (or none)."""
    comparison = Comparison.objects.filter(project=project, pk=comparison_id).first()
    if comparison is None:
        raise NotFound("This comparison is not part of this project.")
    return comparison


def candidate_labels(comparison: Comparison, mode: str) -> dict[int, str]:
    """Candidate id → its label in slot order: A, B for pairs; 1, 2, 3 for rankings."""
    slots = list(comparison.slots.all())
    if mode == Project.Mode.PAIRWISE:
        return {slot.candidate_id: ascii_uppercase[i] for i, slot in enumerate(slots)}
    return {slot.candidate_id: str(i + 1) for i, slot in enumerate(slots)}


def review_items_get(*, project: Project, comparison_ids: list[int]) -> list[Comparison]:
    """The comparisons with what a reviewer sees, in the order of `comparison_ids` (ids of other
    projects are left out): prompt, slots with candidates, every judgment with its annotator (oldest
    first) and every review with its reviewer (oldest first); each also gets `consensus`, the
    consensus ordering of its judgments. Four queries, however many comparisons."""
    comparisons = (
        Comparison.objects.filter(project=project, pk__in=comparison_ids)
        .select_related("prompt", "project")
        .prefetch_related(
            "slots__candidate",
            Prefetch("judgments", queryset=Judgment.objects.select_related("annotator").order_by("id")),
            Prefetch("reviews", queryset=Review.objects.select_related("reviewer").order_by("id")),
        )
    )
    by_id = {c.pk: c for c in comparisons}
    items = [by_id[i] for i in comparison_ids if i in by_id]
    for comparison in items:
        comparison.consensus = agreement.consensus_ordering(j.ordering for j in comparison.judgments.all())
    return items


def review_state(*, queue: ReviewQueue, comparison_id: int) -> str:
    """ "settled", "waiting" (sent back), "open" (in the queue) or "ok" (nothing calls for review)."""
    if comparison_id in queue.settled:
        return "settled"
    if comparison_id in queue.waiting:
        return "waiting"
    if comparison_id in queue.reasons:
        return "open"
    return "ok"


def prompt_texts(*, comparison_ids: list[int]) -> dict[int, str]:
    """Comparison id → the last user turn of its prompt, for queue listings (one query)."""
    rows = Comparison.objects.filter(pk__in=comparison_ids).values_list("pk", "prompt__messages")
    return {pk: (messages[-1].get("content", "") if messages else "") for pk, messages in rows}
