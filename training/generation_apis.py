"""REST API for generation jobs under /api/projects/<slug>/generations/; project admins only.

GET lists the jobs, POST launches one (201), GET <id>/ is a job's state (the job page polls the same
fields), POST <id>/cancel/ cancels (409 once finished).
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
from training import generating, selectors
from training.models import GenerationJob


class GenerationLaunchInput(serializers.Serializer):
    """What a launch takes, from the API (JSON) or the page (form fields)."""

    source = serializers.ChoiceField(choices=GenerationJob.Source.choices)
    base_model = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    model_version = serializers.IntegerField(required=False, allow_null=True, default=None)
    endpoint_model = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    k = serializers.IntegerField(required=False, default=2)
    temperature = serializers.FloatField(required=False, default=1.0)
    top_p = serializers.FloatField(required=False, default=1.0)
    max_new_tokens = serializers.IntegerField(required=False, default=128)
    batch_size = serializers.IntegerField(required=False, default=8)
    seed = serializers.IntegerField(required=False, default=0)
    prompt_ids = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    prompt_round = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=0)
    limit = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
    round = serializers.IntegerField(required=False, default=0, min_value=0)


def generation_launch_input(*, project: Project, raw: object) -> dict:
    """generation_launch keyword arguments from raw input; the model version is looked up within the
    project's reach. Raises ValidationFailed."""
    data = validated(GenerationLaunchInput(data=raw))
    source = data.pop("source")
    version_id = data.pop("model_version")
    data["model_version"] = None
    if source == GenerationJob.Source.VERSION:
        data["model_version"] = selectors.model_version_list(project=project).filter(pk=version_id).first()
        if data["model_version"] is None:
            raise ValidationFailed(
                "Choose a model version.", details=[{"field": "model_version", "reason": "not found"}]
            )
    if source != GenerationJob.Source.BASE:
        data["base_model"] = ""
    if source != GenerationJob.Source.ENDPOINT:
        data["endpoint_model"] = ""
    data["use_endpoint"] = source == GenerationJob.Source.ENDPOINT
    return data


class GenerationJobOutput(serializers.ModelSerializer):
    source_name = serializers.CharField(read_only=True)
    progress = serializers.FloatField(read_only=True)
    is_finished = serializers.BooleanField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = GenerationJob
        fields = [
            "id",
            "source",
            "source_name",
            "model_version",
            "base_model",
            "endpoint_model",
            "endpoint_base_url",
            "k",
            "temperature",
            "top_p",
            "max_new_tokens",
            "batch_size",
            "seed",
            "prompt_ids",
            "round",
            "queue",
            "status",
            "is_finished",
            "prompts_total",
            "prompts_done",
            "progress",
            "candidates_created",
            "comparisons_created",
            "prompt_errors",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]


class GenerationListApi(APIView):
    def get(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        generating.generations_reap_stale()
        jobs = selectors.generation_list(project=project)
        return Response(GenerationJobOutput(jobs[:200], many=True).data)

    def post(self, request: Request, slug: str) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        job = generating.generation_launch(
            project=project,
            created_by=request.user,
            **generation_launch_input(project=project, raw=request.data),
        )
        return Response(GenerationJobOutput(job).data, status=status.HTTP_201_CREATED)


class GenerationDetailApi(APIView):
    def get(self, request: Request, slug: str, job_id: int) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        generating.generations_reap_stale()
        return Response(GenerationJobOutput(selectors.generation_get(project=project, job_id=job_id)).data)


class GenerationCancelApi(APIView):
    def post(self, request: Request, slug: str, job_id: int) -> Response:
        project = project_get_for(user=request.user, slug=slug, role=Membership.Role.ADMIN)
        job = generating.generation_cancel(job=selectors.generation_get(project=project, job_id=job_id))
        return Response(GenerationJobOutput(job).data)
