"""The review queue page (reviewers and admins): one comparison at a time with every annotator's
judgment, and the three decisions (accept, override, send back) as buttons with keys.

Decisions are plain form posts to the reviewing services, then a redirect to the queue, so a
reload never posts twice; a retried post records nothing new (the services are idempotent).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from annotation.models import Comparison, Membership, Project, Review
from annotation.permissions import project_get_for
from annotation.quality.review import REASONS, ordering_text
from annotation.rendering import markdown_stored, messages_shown
from annotation.selectors import review as review_selectors
from annotation.services.judging import Ordering
from annotation.services.reviewing import (
    EXTRA_JUDGMENTS_MAX,
    NOTE_MAX,
    review_accept,
    review_override,
    review_send_back,
)
from rankwise.errors import NotFound, RankwiseError, ValidationFailed

QUEUE_LISTED = 50


@login_required
def review_queue(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.REVIEWER)
    raw = request.GET.get("comparison", "")
    return _review_page(request, project=project, comparison_id=int(raw) if raw.isdigit() else None)


@login_required
@require_POST
def review_decide(request: HttpRequest, slug: str, comparison_id: int) -> HttpResponse:
    project = project_get_for(user=request.user, slug=slug, role=Membership.Role.REVIEWER)
    comparison = review_selectors.comparison_get(project=project, comparison_id=comparison_id)
    decision = request.POST.get("decision", "")
    note = request.POST.get("note", "")
    common = {"project": project, "reviewer": request.user, "comparison_id": comparison_id}
    try:
        if decision == Review.Decision.ACCEPT:
            result = review_accept(**common, note=note)
        elif decision == Review.Decision.OVERRIDE:
            ordering = ordering_from_ranks(
                request.POST, [s.candidate_id for s in comparison.slots.order_by("position")]
            )
            result = review_override(**common, ordering=ordering, note=note)
        elif decision == Review.Decision.SEND_BACK:
            raw = request.POST.get("extra_judgments", "").strip()
            if not raw.isdigit():
                raise ValidationFailed(
                    "Say how many more judgments to ask for.",
                    details=[
                        {
                            "field": "extra_judgments",
                            "reason": f"a whole number from 1 to {EXTRA_JUDGMENTS_MAX}",
                        }
                    ],
                )
            result = review_send_back(**common, extra_judgments=int(raw), note=note)
        else:
            raise ValidationFailed(
                "Choose accept, override or send back.",
                details=[{"field": "decision", "reason": "one of accept, override, send_back"}],
            )
    except RankwiseError as exc:
        return _review_page(
            request, project=project, comparison_id=comparison_id, error=exc, status=exc.status_code
        )
    review = result.review
    done = {
        Review.Decision.ACCEPT: "accepted the consensus of",
        Review.Decision.OVERRIDE: "overrode",
        Review.Decision.SEND_BACK: f"sent back for {review.extra_judgments} more judgment(s)",
    }[review.decision]
    prefix = "Recorded" if result.created else "Already recorded"
    messages.success(request, f"{prefix}: {done} comparison {comparison_id}.")
    return redirect("review", slug=project.slug)


def ordering_from_ranks(data: Mapping[str, str], candidate_ids: list[int]) -> Ordering:
    """Tiers from the override form's `rank-<candidate id>` fields (1 = best; equal ranks tie), in
    candidate order within a tier. Raises ValidationFailed (field "ordering") when a rank is
    missing or not a whole number from 1 to the number of candidates."""
    ranks: dict[int, int] = {}
    for candidate_id in candidate_ids:
        raw = str(data.get(f"rank-{candidate_id}", "")).strip()
        if not raw.isdigit() or not 1 <= int(raw) <= len(candidate_ids):
            raise ValidationFailed(
                "Give every candidate a rank: 1 is best, equal ranks are a tie.",
                details=[
                    {"field": "ordering", "reason": f"ranks are whole numbers from 1 to {len(candidate_ids)}"}
                ],
            )
        ranks[candidate_id] = int(raw)
    return tuple(tuple(c for c in candidate_ids if ranks[c] == rank) for rank in sorted(set(ranks.values())))


def _review_page(
    request: HttpRequest,
    *,
    project: Project,
    comparison_id: int | None,
    error: RankwiseError | None = None,
    status: int = 200,
) -> HttpResponse:
    queue = review_selectors.review_queue_get(project=project)
    ids = [e.comparison_id for e in queue.entries]
    current_id = comparison_id if comparison_id is not None else (ids[0] if ids else None)
    item = None
    if current_id is not None:
        items = review_selectors.review_items_get(project=project, comparison_ids=[current_id])
        if not items:
            raise NotFound("This comparison is not part of this project.")
        item = _item_context(project, items[0], queue)
        if error is not None:
            # Show the ranks as they were posted, so a refused override can be fixed, not retyped.
            for candidate in item["candidates"]:
                candidate["rank"] = request.POST.get(f"rank-{candidate['id']}", candidate["rank"])
    position = ids.index(current_id) if current_id in ids else None
    listed = ids[:QUEUE_LISTED]
    prompts = review_selectors.prompt_texts(comparison_ids=listed)
    url = reverse("review", args=[project.slug])

    def link(index: int) -> str | None:
        return f"{url}?comparison={ids[index]}" if 0 <= index < len(ids) else None

    context = {
        "project": project,
        "item": item,
        "error": error,
        "queue": [
            {
                "comparison_id": e.comparison_id,
                "prompt": prompts.get(e.comparison_id, ""),
                "reasons": [REASONS[r] for r in e.reasons],
                "agreement": e.agreement,
                "current": e.comparison_id == current_id,
                "url": f"{url}?comparison={e.comparison_id}",
            }
            for e in queue.entries[:QUEUE_LISTED]
        ],
        "queue_count": len(ids),
        "waiting_count": len(queue.waiting),
        "settled_count": len(queue.settled),
        "position": None if position is None else position + 1,
        "next_url": link(position + 1) if position is not None else link(0),
        "previous_url": link(position - 1) if position is not None else None,
        "extra_max": EXTRA_JUDGMENTS_MAX,
        "note_max": NOTE_MAX,
        "posted": request.POST if error is not None else {},
    }
    return render(request, "annotation/review.html", context, status=status)


def _item_context(project: Project, comparison: Comparison, queue: review_selectors.ReviewQueue) -> dict:
    labels = review_selectors.candidate_labels(comparison, project.mode)
    entry = queue.reasons.get(comparison.pk)
    consensus_ranks = _ranks(comparison.consensus)
    return {
        "comparison": comparison,
        "state": review_selectors.review_state(queue=queue, comparison_id=comparison.pk),
        "reasons": [REASONS[r] for r in entry.reasons] if entry else [],
        "flags": list(entry.flags) if entry else [],
        "agreement": entry.agreement if entry else None,
        "consensus": ordering_text(comparison.consensus, labels),
        "gold": ordering_text(comparison.gold_ordering, labels) if comparison.gold_ordering else None,
        "messages": messages_shown(comparison.prompt.messages, comparison.prompt.messages_html),
        "candidates": [
            {
                "id": slot.candidate_id,
                "label": labels[slot.candidate_id],
                "model": slot.candidate.model_name,
                "html": markdown_stored(slot.candidate.html, slot.candidate.text),
                # The override form starts from the consensus.
                "rank": consensus_ranks.get(slot.candidate_id, 1),
            }
            for slot in comparison.slots.all()
        ],
        "judgments": [
            {
                "annotator": j.annotator.username if j.annotator else "(imported)",
                "answer": ordering_text(j.ordering, labels),
                "strength": j.get_strength_display() if j.strength else "",
                "flags": j.flags,
                "rationale": j.rationale,
                "seconds": j.time_spent_ms / 1000 if j.time_spent_ms else None,
                "created_at": j.created_at,
            }
            for j in comparison.judgments.all()
        ],
        "reviews": [
            {
                "reviewer": r.reviewer.username if r.reviewer else "(former member)",
                "decision": r.get_decision_display(),
                "answer": ordering_text(r.ordering, labels) if r.ordering else "",
                "extra_judgments": r.extra_judgments,
                "note": r.note,
                "created_at": r.created_at,
            }
            for r in comparison.reviews.all()
        ],
        "config": {
            "mode": project.mode,
            "candidates": [slot.candidate_id for slot in comparison.slots.all()],
        },
    }


def _ranks(ordering: list[list[int]]) -> dict[int, int]:
    """Candidate id → rank (1 = best) in an ordering: what the override form starts from."""
    return {c: i + 1 for i, tier in enumerate(ordering) for c in tier}
