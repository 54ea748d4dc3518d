"""REST API for scoring jobs and the reward model's report."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.models import Membership
from annotation.permissions import ProjectApi
from training.models import ScoringJob
from training.selectors.scoring import scoring_get, scoring_list
from training.serializers import (
    score_report_for,
    scoring_launch_input,
)
from training.services.scoring import scoring_cancel, scoring_launch


class ScoringJobOutput(serializers.ModelSerializer):
    model_version_name = serializers.CharField(source="model_version.name", read_only=True)
    candidates_done = serializers.IntegerField(read_only=True)
    progress = serializers.FloatField(read_only=True)
    is_finished = serializers.BooleanField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = ScoringJob
        fields = [
            "id",
            "model_version",
            "model_version_name",
            "selection",
            "round",
            "batch_size",
            "max_length",
            "queue",
            "status",
            "is_finished",
            "candidates_total",
            "candidates_scored",
            "candidates_failed",
            "candidates_done",
            "progress",
            "item_errors",
            "error",
            "created_by",
            "dispatched_at",
            "created_at",
            "started_at",
            "finished_at",
        ]


class ScoringListApi(ProjectApi):
    project_role = Membership.Role.ADMIN

    def get(self, request: Request, slug: str) -> Response:
        project = self.project
        return Response(ScoringJobOutput(scoring_list(project=project)[:200], many=True).data)

    def post(self, request: Request, slug: str) -> Response:
        project = self.project
        job = scoring_launch(
            project=project,
            created_by=request.user,
            spec=scoring_launch_input(project=project, raw=request.data),
        )
        return Response(ScoringJobOutput(job).data, status=status.HTTP_201_CREATED)


class ScoringDetailApi(ProjectApi):
    project_role = Membership.Role.ADMIN

    def get(self, request: Request, slug: str, job_id: int) -> Response:
        project = self.project
        return Response(ScoringJobOutput(scoring_get(project=project, job_id=job_id)).data)


class ScoringCancelApi(ProjectApi):
    project_role = Membership.Role.ADMIN

    def post(self, request: Request, slug: str, job_id: int) -> Response:
        project = self.project
        job = scoring_cancel(job=scoring_get(project=project, job_id=job_id))
        return Response(ScoringJobOutput(job).data)


class ScoreCandidateOutput(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()
    model_name = serializers.CharField()
    score = serializers.FloatField()
    votes = serializers.IntegerField(help_text="judgments ranking this candidate alone at the top")


class ScoreComparisonOutput(serializers.Serializer):
    comparison = serializers.IntegerField(source="verdict.comparison_id")
    prompt = serializers.CharField()
    candidates = ScoreCandidateOutput(many=True)
    judgments = serializers.IntegerField(source="verdict.judgments")
    rm_choice = serializers.IntegerField(source="verdict.rm_choice", help_text="the highest-scored candidate")
    rm_margin = serializers.FloatField(source="verdict.rm_margin", help_text="its score minus the next best")
    human_choice = serializers.IntegerField(source="verdict.human", allow_null=True)
    agrees = serializers.BooleanField(source="verdict.agrees", allow_null=True)
    margin_vs_humans = serializers.FloatField(
        source="verdict.margin_vs_humans",
        allow_null=True,
        help_text="the human choice's score minus the best other score; negative: the reward model disagrees",
    )


class ScoreReportOutput(serializers.Serializer):
    model_version = serializers.IntegerField(source="model_version.pk")
    model_version_name = serializers.CharField(source="model_version.name")
    candidates = serializers.IntegerField()
    scored = serializers.IntegerField()
    judged = serializers.IntegerField()
    compared = serializers.IntegerField()
    agreements = serializers.IntegerField()
    disagreements = serializers.IntegerField()
    agreement_rate = serializers.FloatField(allow_null=True)
    comparisons = ScoreComparisonOutput(many=True, source="rows")


class ScoreReportApi(ProjectApi):
    project_role = Membership.Role.ADMIN

    def get(self, request: Request, slug: str) -> Response:
        project = self.project
        return Response(ScoreReportOutput(score_report_for(project=project, raw=request.query_params)).data)
