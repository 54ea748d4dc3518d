"""Listing collected data over the REST API: comparisons, my judgments, demonstrations.

Annotators never see other annotators' labels (judgments, demonstrations), gold answers, or
model names when the project hides them or the comparison is an arena battle; reviewers and admins
see everything of the project.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.models import Comparison, Demonstration, Judgment, Membership
from annotation.permissions import ProjectApi, has_role, model_names_hidden
from annotation.selectors import annotating as selectors
from annotation.selectors import data as api_selectors
from rankwise.api.errors import validated
from rankwise.api.pagination import PAGE_PARAMETERS, page_of, paginated_response
from rankwise.api.schema import ERRORS


class PromptOutput(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    messages = serializers.ListField(child=serializers.DictField())


class CandidateOutput(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    text = serializers.CharField()
    model = serializers.CharField(
        allow_null=True, help_text="null for annotators when the project hides model names or in an arena"
    )


class ComparisonOutput(serializers.ModelSerializer):
    """Needs context["privileged"]: whether the reader is a reviewer or admin of the project."""

    prompt = PromptOutput()
    candidates = serializers.SerializerMethodField()
    priority = serializers.SerializerMethodField()
    gold_ordering = serializers.SerializerMethodField()

    class Meta:
        model = Comparison
        fields = [
            "id",
            "prompt",
            "candidates",
            "round",
            "arena",
            "priority",
            "judgment_count",
            "gold_ordering",
        ]

    @extend_schema_field(CandidateOutput(many=True))
    def get_candidates(self, comparison: Comparison) -> list[dict[str, Any]]:
        hidden = model_names_hidden(
            project=comparison.project, arena=comparison.arena, privileged=self.context["privileged"]
        )
        return [
            {
                "id": slot.candidate_id,
                "position": slot.position,
                "text": slot.candidate.text,
                "model": None if hidden else slot.candidate.model_name,
            }
            for slot in comparison.slots.all()
        ]

    @extend_schema_field(
        serializers.IntegerField(
            allow_null=True,
            help_text="reviewers and admins only: under a queue order it ranks reward-model "
            "uncertainty or the annotators' disagreement",
        )
    )
    def get_priority(self, comparison: Comparison) -> int | None:
        return comparison.priority if self.context["privileged"] else None

    @extend_schema_field(serializers.JSONField(allow_null=True, help_text="reviewers and admins only"))
    def get_gold_ordering(self, comparison: Comparison) -> list | None:
        return comparison.gold_ordering if self.context["privileged"] else None


class ComparisonFilters(serializers.Serializer):
    round = serializers.IntegerField(required=False, min_value=0)
    gold = serializers.BooleanField(required=False, allow_null=True, default=None)
    min_judgments = serializers.IntegerField(required=False, min_value=0)
    max_judgments = serializers.IntegerField(required=False, min_value=0)
    prompt = serializers.CharField(required=False, max_length=255, help_text="the prompt's external id")


class ComparisonListApi(ProjectApi):
    @extend_schema(
        parameters=[ComparisonFilters, *PAGE_PARAMETERS],
        responses={200: page_of(ComparisonOutput, "Comparison"), **ERRORS},
    )
    def get(self, request: Request, slug: str) -> Response:
        """The project's comparisons in id order, filtered by round, gold, judgment counts or prompt."""
        project = self.project
        filters = validated(ComparisonFilters(data=request.query_params))
        privileged = has_role(user=request.user, project=project, role=Membership.Role.REVIEWER)
        if not privileged:
            # Which items are gold is itself an answer key: annotators may not filter on it.
            filters.pop("gold", None)
        comparisons = api_selectors.comparison_list(project=project, **filters)
        return paginated_response(
            request=request,
            view=self,
            queryset=comparisons.select_related("project"),
            serializer=ComparisonOutput,
            context={"privileged": privileged},
        )


class JudgmentOutput(serializers.ModelSerializer):
    class Meta:
        model = Judgment
        fields = [
            "id",
            "comparison",
            "ordering",
            "strength",
            "ratings",
            "rationale",
            "flags",
            "presented_order",
            "time_spent_ms",
            "created_at",
            "updated_at",
        ]


class MyJudgmentListApi(ProjectApi):
    @extend_schema(
        operation_id="projects_judgments_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(JudgmentOutput, "Judgment"), **ERRORS},
    )
    def get(self, request: Request, slug: str) -> Response:
        """My judgments in the project, newest first (others' are in the export, for admins)."""
        project = self.project
        judgments = selectors.judgment_list_for_annotator(project=project, annotator=request.user)
        return paginated_response(request=request, view=self, queryset=judgments, serializer=JudgmentOutput)


class DemonstrationOutput(serializers.ModelSerializer):
    annotator = serializers.CharField(source="annotator.username", allow_null=True, default=None)

    class Meta:
        model = Demonstration
        fields = ["id", "prompt", "comparison", "based_on", "annotator", "text", "created_at", "updated_at"]


class DemonstrationListApi(ProjectApi):
    @extend_schema(
        parameters=[
            OpenApiParameter("annotator", str, description="admins: only this annotator's (username)"),
            *PAGE_PARAMETERS,
        ],
        responses={200: page_of(DemonstrationOutput, "Demonstration"), **ERRORS},
    )
    def get(self, request: Request, slug: str) -> Response:
        """Demonstrations, newest first: my own, or everyone's for project admins."""
        project = self.project
        if has_role(user=request.user, project=project, role=Membership.Role.ADMIN):
            demonstrations = api_selectors.demonstration_list(
                project=project, annotator_username=request.query_params.get("annotator", "")
            )
        else:
            demonstrations = api_selectors.demonstration_list(project=project, annotator=request.user)
        return paginated_response(
            request=request, view=self, queryset=demonstrations, serializer=DemonstrationOutput
        )
