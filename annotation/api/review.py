"""The review queue over the REST API (reviewers and admins): list what needs review, read one
comparison with every annotator's judgment, and record a decision (accept, override, send back).

Model names are shown whatever project.hides_model_names says: that setting hides them from
annotators; reviewers and admins see them everywhere (docs/quality.md).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.api.data import PromptOutput
from annotation.models import Comparison, Judgment, Membership, Project, Review
from annotation.permissions import ProjectApi
from annotation.quality.review import REASONS
from annotation.selectors import review as review_selectors
from annotation.services.judging import ordering_parse
from annotation.services.reviewing import (
    EXTRA_JUDGMENTS_MAX,
    NOTE_MAX,
    review_accept,
    review_override,
    review_send_back,
)
from rankwise.api.errors import validated
from rankwise.api.fields import JSONField
from rankwise.api.pagination import PAGE_PARAMETERS, _Pagination, page_of
from rankwise.api.schema import ERRORS
from rankwise.errors import NotFound

# Named in SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"], so the schema's enums keep their names.
STATES = ("open", "waiting", "settled", "ok")
REASON_CHOICES = tuple(REASONS)


class ReviewCandidateOutput(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    label = serializers.CharField(help_text="A, B for pairs; 1, 2, 3 for rankings (slot order)")
    text = serializers.CharField()
    model = serializers.CharField()


class ReviewJudgmentOutput(serializers.ModelSerializer):
    annotator = serializers.CharField(source="annotator.username", allow_null=True, default=None)

    class Meta:
        model = Judgment
        fields = [
            "id",
            "annotator",
            "source",
            "ordering",
            "strength",
            "ratings",
            "rationale",
            "flags",
            "presented_order",
            "time_spent_ms",
            "created_at",
        ]


class ReviewOutput(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", allow_null=True, default=None)

    class Meta:
        model = Review
        fields = [
            "id",
            "comparison",
            "reviewer",
            "decision",
            "ordering",
            "note",
            "extra_judgments",
            "judgment_count",
            "created_at",
        ]


class ReviewItemOutput(serializers.ModelSerializer):
    """Needs context["queue"]: the project's review_selectors.ReviewQueue."""

    prompt = PromptOutput()
    candidates = serializers.SerializerMethodField()
    gold_ordering = serializers.JSONField(allow_null=True)
    state = serializers.SerializerMethodField()
    reasons = serializers.SerializerMethodField()
    agreement = serializers.SerializerMethodField()
    consensus = serializers.JSONField(help_text="the consensus ordering of the judgments, best first")
    judgments = ReviewJudgmentOutput(many=True)
    reviews = ReviewOutput(many=True)

    class Meta:
        model = Comparison
        fields = [
            "id",
            "prompt",
            "candidates",
            "round",
            "priority",
            "judgment_count",
            "extra_judgments",
            "gold_ordering",
            "state",
            "reasons",
            "agreement",
            "consensus",
            "judgments",
            "reviews",
        ]

    @extend_schema_field(ReviewCandidateOutput(many=True))
    def get_candidates(self, comparison: Comparison) -> list[dict[str, Any]]:
        labels = review_selectors.candidate_labels(comparison, comparison.project.mode)
        return [
            {
                "id": slot.candidate_id,
                "position": slot.position,
                "label": labels[slot.candidate_id],
                "text": slot.candidate.text,
                "model": slot.candidate.model_name,
            }
            for slot in comparison.slots.all()
        ]

    @extend_schema_field(serializers.ChoiceField(choices=STATES))
    def get_state(self, comparison: Comparison) -> str:
        return review_selectors.review_state(queue=self.context["queue"], comparison_id=comparison.pk)

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=REASON_CHOICES)))
    def get_reasons(self, comparison: Comparison) -> list[str]:
        entry = self.context["queue"].reasons.get(comparison.pk)
        return list(entry.reasons) if entry else []

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_agreement(self, comparison: Comparison) -> float | None:
        entry = self.context["queue"].reasons.get(comparison.pk)
        return entry.agreement if entry else None


class ReviewQueueFilters(serializers.Serializer):
    reason = serializers.ChoiceField(choices=REASON_CHOICES, required=False, help_text="only this reason")


class ReviewQueueApi(ProjectApi):
    project_role = Membership.Role.REVIEWER

    @extend_schema(
        operation_id="projects_review_queue",
        parameters=[ReviewQueueFilters, *PAGE_PARAMETERS],
        responses={200: page_of(ReviewItemOutput, "ReviewItem"), **ERRORS},
    )
    def get(self, request: Request, slug: str) -> Response:
        """Comparisons that need review, lowest agreement first, each with every judgment of it."""
        project = self.project
        filters = validated(ReviewQueueFilters(data=request.query_params))
        queue = review_selectors.review_queue_get(project=project, reason=filters.get("reason", ""))
        paginator = _Pagination()
        page = paginator.paginate_queryset([e.comparison_id for e in queue.entries], request, view=self)
        items = review_selectors.review_items_get(project=project, comparison_ids=list(page))
        return paginator.get_paginated_response(
            ReviewItemOutput(items, many=True, context={"queue": queue}).data
        )


class ReviewDecisionInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Review.Decision.choices)
    ordering = JSONField(
        required=False, help_text="override: tiers of candidate ids, best first ([[a, b]] is a tie)"
    )
    extra_judgments = serializers.IntegerField(
        required=False, default=1, help_text=f"send_back: how many more judgments (1–{EXTRA_JUDGMENTS_MAX})"
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX)


class ReviewItemApi(ProjectApi):
    project_role = Membership.Role.REVIEWER

    def _item(self, request: Request, slug: str, comparison_id: int) -> tuple[Project, Comparison]:
        project = self.project
        items = review_selectors.review_items_get(project=project, comparison_ids=[comparison_id])
        if not items:
            raise NotFound("This comparison is not part of this project.")
        return project, items[0]

    @extend_schema(operation_id="projects_review_item", responses={200: ReviewItemOutput, **ERRORS})
    def get(self, request: Request, slug: str, comparison_id: int) -> Response:
        """One comparison as a reviewer sees it, with its state in the queue and its reviews."""
        project, item = self._item(request, slug, comparison_id)
        queue = review_selectors.review_queue_get(project=project)
        return Response(ReviewItemOutput(item, context={"queue": queue}).data)

    @extend_schema(
        request=ReviewDecisionInput,
        responses={200: ReviewOutput, 201: ReviewOutput, **ERRORS},
    )
    def post(self, request: Request, slug: str, comparison_id: int) -> Response:
        """Record a decision: accept the consensus, override it with `ordering`, or send it back for
        `extra_judgments` more. 201 when recorded, 200 when the same decision was already recorded
        (a retry), 409 when the comparison was settled otherwise."""
        project = self.project
        # Another project's id is a 404 whatever the body, so ids cannot be probed by their errors.
        review_selectors.comparison_get(project=project, comparison_id=comparison_id)
        data = validated(ReviewDecisionInput(data=request.data))
        common = {"project": project, "reviewer": request.user, "comparison_id": comparison_id}
        decision = data["decision"]
        if decision == Review.Decision.ACCEPT:
            result = review_accept(**common, note=data["note"])
        elif decision == Review.Decision.OVERRIDE:
            ordering = ordering_parse(data.get("ordering"))
            result = review_override(**common, ordering=ordering, note=data["note"])
        else:
            result = review_send_back(**common, extra_judgments=data["extra_judgments"], note=data["note"])
        return Response(ReviewOutput(result.review).data, status=201 if result.created else 200)
