"""REST API for generation jobs."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.models import Membership
from annotation.permissions import ProjectApi
from training.models import GenerationJob
from training.selectors.generation import generation_get, generation_list
from training.serializers import (
    generation_launch_input,
)
from training.services.generation import generation_cancel, generation_launch


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
            "dispatched_at",
            "created_at",
            "started_at",
            "finished_at",
        ]


class GenerationListApi(ProjectApi):
    project_role = Membership.Role.ADMIN

    def get(self, request: Request, slug: str) -> Response:
        project = self.project
        jobs = generation_list(project=project)
        return Response(GenerationJobOutput(jobs[:200], many=True).data)

    def post(self, request: Request, slug: str) -> Response:
        project = self.project
        job = generation_launch(
            project=project,
            created_by=request.user,
            spec=generation_launch_input(project=project, raw=request.data),
        )
        return Response(GenerationJobOutput(job).data, status=status.HTTP_201_CREATED)


class GenerationDetailApi(ProjectApi):
    project_role = Membership.Role.ADMIN

    def get(self, request: Request, slug: str, job_id: int) -> Response:
        project = self.project
        return Response(GenerationJobOutput(generation_get(project=project, job_id=job_id)).data)


class GenerationCancelApi(ProjectApi):
    project_role = Membership.Role.ADMIN

    def post(self, request: Request, slug: str, job_id: int) -> Response:
        project = self.project
        job = generation_cancel(job=generation_get(project=project, job_id=job_id))
        return Response(GenerationJobOutput(job).data)
