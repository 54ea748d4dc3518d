"""REST API for scoring jobs and reward scores under /api/projects/<slug>/; project admins only.

GET scorings/ lists the jobs, POST launches one (201), GET scorings/<id>/ is a job's state (the scores page
polls the same fields), POST scorings/<id>/cancel/ cancels (409 once finished). GET scores/?model_version=
is the reward model beside the human judgments: agreement rate and the comparisons, largest disagreement
first. Annotators get 403 here, and no annotator response carries a score.
"""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Membership, Project
from annotation.permissions import project_get_for
from rankwise.api.errors import validated
from rankwise.errors import ValidationFailed
from training import scoring, selectors
from training.models import ModelVersion, ScoringJob
from training.selectors import ScoreReport

REPORT_LIMIT_MAX = 1000


def _reward_version(project: Project, version_id: object, field: str = "model_version") -> ModelVersion:
    version = (
        selectors.reward_version_list(project=project).filter(pk=version_id).first() if version_id else None
    )
    if version is None:
        raise ValidationFailed(
            "Choose a reward model version of this project.",
            details=[{"field": field, "reason": "not a reward model version of this project"}],
        )
    return version


class ScoringLaunchInput(serializers.Serializer):
    """What a launch takes, from the API (JSON) or the page (form fields)."""

    model_version = serializers.IntegerField()
    selection = serializers.ChoiceField(choices=ScoringJob.Selection.choices, required=False, default="all")
    round = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0)
    batch_size = serializers.IntegerField(required=False, default=16)
    max_length = serializers.IntegerField(required=False, default=1024)


def scoring_launch_input(*, project: Project, raw: object) -> dict:
    """scoring_launch keyword arguments from raw input, the version looked up among the project's reward
    model versions. Raises ValidationFailed naming the field."""
    data = validated(ScoringLaunchInput(data=raw))
    data["model_version"] = _reward_version(project, data["model_version"])
    return data


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
            "created_at",
            "started_at",
            "finished_at",
        ]


class ScoringListApi(APIView):
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        scoring.scorings_reap_stale()
        return Response(ScoringJobOutput(selectors.scoring_list(project=project)[:200], many=True).data)

    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        job = scoring.scoring_launch(
            project=project,
            created_by=request.user,
            **scoring_launch_input(project=project, raw=request.data),
        )
        return Response(ScoringJobOutput(job).data, status=status.HTTP_201_CREATED)


class ScoringDetailApi(APIView):
    def get(self, request: Request, slug: str, job_id: int) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        scoring.scorings_reap_stale()
        return Response(ScoringJobOutput(selectors.scoring_get(project=project, job_id=job_id)).data)


class ScoringCancelApi(APIView):
    def post(self, request: Request, slug: str, job_id: int) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        job = scoring.scoring_cancel(job=selectors.scoring_get(project=project, job_id=job_id))
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


class ScoreReportInput(serializers.Serializer):
    model_version = serializers.IntegerField()
    limit = serializers.IntegerField(required=False, default=100, min_value=1, max_value=REPORT_LIMIT_MAX)


def score_report_for(*, project: Project, raw: object) -> ScoreReport:
    """The score report a request asks for; raises ValidationFailed naming the field."""
    data = validated(ScoreReportInput(data=raw))
    version = _reward_version(project, data["model_version"])
    return selectors.score_report(project=project, model_version=version, limit=data["limit"])


class ScoreReportApi(APIView):
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        return Response(ScoreReportOutput(score_report_for(project=project, raw=request.query_params)).data)
